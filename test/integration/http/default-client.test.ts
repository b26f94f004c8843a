import { createServer, type IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import { GetRecordsCommand } from '@aws-sdk/client-kinesis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  createDefaultClient,
  createPublisher,
  createScache,
  type InvocationLog,
  PublishError,
} from '../../../src/index.js'

// A server that accepts requests and never answers: a hung Kinesis endpoint.
const received: IncomingMessage[] = []
const server = createServer((request) => {
  received.push(request)
})
let endpoint = ''
beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
afterAll(async () => {
  server.closeAllConnections()
  await new Promise((resolve) => server.close(resolve))
})

describe('the default client (against a hung HTTP endpoint)', () => {
  it('fails a read after its request timeout, with a single attempt and no SDK retry', async () => {
    const client = createDefaultClient(
      { maxAttempts: 1, requestTimeoutMs: 200 },
      { endpoint, region: 'us-east-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } },
    )
    received.length = 0
    const error = await client
      .send(new GetRecordsCommand({ ShardIterator: 'x' }))
      .catch((e: unknown) => e as Error)
    expect(error).toBeInstanceOf(Error)
    expect((error as Error).name).toBe('TimeoutError')
    expect(received).toHaveLength(1)
    expect(received[0]?.headers['x-amz-target']).toBe('Kinesis_20131202.GetRecords')
    client.destroy()
  })

  it('keeps connections alive between calls', async () => {
    const client = createDefaultClient(
      { maxAttempts: 1, requestTimeoutMs: 100 },
      { endpoint, region: 'us-east-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } },
    )
    received.length = 0
    await client.send(new GetRecordsCommand({ ShardIterator: 'x' })).catch(() => {})
    expect(received[0]?.headers.connection).toBe('keep-alive')
    client.destroy()
  })
})

describe('a poll against a hung Kinesis endpoint', () => {
  const hungClient = () =>
    // A request timeout far beyond the test's: only the poll budget can end the poll.
    createDefaultClient(
      { maxAttempts: 1, requestTimeoutMs: 10_000 },
      { endpoint, region: 'us-east-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } },
    )

  it('ends within pollBudgetMs, and the request goes on with the cache bypassed', {
    timeout: 5_000,
  }, async () => {
    const instance = createScache({
      stream: { name: 's', client: hungClient() },
      pollBudgetMs: 100,
      log: false,
    })
    instance.cache.set('users:1', 'Ada')
    const invocation = await instance.begin()
    expect(invocation.poll?.ok).toBe(false)
    expect(invocation.cache.bypassed).toBe(true)
    expect(invocation.cache.get('users:1')).toBeUndefined()
    const line = invocation.end()
    expect(line.streamError).toMatch(/^AbortError/)
    expect(line.bypassed).toBe(1)
  })

  it('takes at most half of what is left of the invocation', { timeout: 5_000 }, async () => {
    const instance = createScache({
      stream: { name: 's', client: hungClient() },
      pollBudgetMs: 60_000,
      log: false,
    })
    instance.cache.set('users:1', 'Ada')
    const invocation = await instance.begin({
      awsRequestId: 'r',
      getRemainingTimeInMillis: () => 200,
    })
    expect(invocation.end().streamError).toMatch(/^AbortError/)
  })
})

describe('a refused connection (nothing listening)', () => {
  /** A loopback port nothing listens on: one the OS just handed out and took back. */
  const closedPort = async (): Promise<number> => {
    const probe = createServer()
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve))
    const { port } = probe.address() as AddressInfo
    await new Promise((resolve) => probe.close(resolve))
    return port
  }
  const clientAt = async () =>
    createDefaultClient(
      { maxAttempts: 1 },
      {
        endpoint: `http://127.0.0.1:${await closedPort()}`,
        region: 'us-east-1',
        credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
      },
    )

  it('is named by its code in a PublishError, not as a plain Error', async () => {
    const publisher = createPublisher({
      streamName: 's',
      client: await clientAt(),
      maxAttempts: 1,
    })
    const error = await publisher.invalidate('users:1').catch((e: unknown) => e)
    expect(error).toBeInstanceOf(PublishError)
    expect((error as PublishError).errorCodes).toEqual(['ECONNREFUSED'])
    expect((error as PublishError).message).toContain('(ECONNREFUSED)')
  })

  it('is named by its code in the log line of a failed poll', async () => {
    const lines: InvocationLog[] = []
    const scache = createScache({
      stream: { name: 's', client: await clientAt() },
      pollIntervalMs: 0,
      log: (line) => lines.push(line),
    })
    const first = await scache.begin()
    first.cache.set('users:1', 'v1') // something cached, so the next request must poll
    first.end()
    const second = await scache.begin()
    second.end()
    expect(lines.at(-1)?.streamError).toMatch(/^ECONNREFUSED: /)
  })
})
