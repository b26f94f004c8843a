import { createServer, type Server, type Socket } from 'node:net'
import { KinesisClient } from '@aws-sdk/client-kinesis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PublishError } from '../../../src/errors.js'
import { createPublisher } from '../../../src/publish/index.js'
import { createDefaultClient } from '../../../src/stream/client.js'

/** A TCP server that accepts every connection, reads what it is sent, and never answers. */
let server: Server
let endpoint: string
const sockets = new Set<Socket>()
let accepted = 0

beforeAll(async () => {
  server = createServer((socket) => {
    accepted++
    sockets.add(socket)
    socket.on('data', () => {})
    socket.on('error', () => {})
    socket.on('close', () => sockets.delete(socket))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('no port')
  endpoint = `http://127.0.0.1:${address.port}`
})

afterAll(async () => {
  for (const socket of sockets) socket.destroy()
  await new Promise<void>((resolve) => server.close(() => resolve()))
})

const config = () => ({
  endpoint,
  region: 'us-east-1',
  credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
})

/** The SDK's own client, as a user builds it: its default handler has no response timeout. */
const sdkClient = () => new KinesisClient(config())

const rejection = async (promise: Promise<unknown>): Promise<{ error: unknown; ms: number }> => {
  const started = performance.now()
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  )
  return { error, ms: performance.now() - started }
}

describe('publishing against an endpoint that accepts and never answers', () => {
  it('rejects at its budget with a PublishError naming every key', async () => {
    const before = accepted
    const publisher = createPublisher({ streamName: 's', client: sdkClient(), timeoutMs: 500 })
    const { error, ms } = await rejection(publisher.invalidate(['users:1', 'users:2']))
    expect(error).toBeInstanceOf(PublishError)
    const published = error as PublishError
    expect(published.failedKeys).toEqual(['users:1', 'users:2'])
    expect(published.errorCodes).toContain('TimeoutError')
    expect(published.failedStreams).toEqual(['s'])
    expect(accepted).toBeGreaterThan(before)
    // Without a deadline this call never settles (the SDK's handler waits for ever): any bound
    // well short of the test's own timeout shows the budget held.
    expect(ms).toBeLessThan(10_000)
  }, 30_000)

  it('the default budget bounds the default client too (it took 30.8 s: 5 × 3 × 2 s)', async () => {
    const publisher = createPublisher({
      streamName: 's',
      client: createDefaultClient({ maxAttempts: 3 }, config()),
    })
    const { error, ms } = await rejection(publisher.invalidateAll())
    expect(error).toBeInstanceOf(PublishError)
    expect((error as PublishError).failedAll).toBe(true)
    expect((error as PublishError).errorCodes).toContain('TimeoutError')
    expect(ms).toBeLessThan(20_000)
  }, 40_000)

  it("a call's own budget, shorter than the publisher's, bounds it", async () => {
    const publisher = createPublisher({ streamName: 's', client: sdkClient(), timeoutMs: 30_000 })
    const { error, ms } = await rejection(publisher.invalidatePrefix('orders:', { timeoutMs: 300 }))
    expect(error).toBeInstanceOf(PublishError)
    expect((error as PublishError).failedPrefixes).toEqual(['orders:'])
    expect((error as PublishError).errorCodes).toContain('TimeoutError')
    expect(ms).toBeLessThan(10_000)
  }, 30_000)

  it("the caller's AbortSignal ends it, with the signal's reason, on every replica", async () => {
    const publisher = createPublisher({
      streamNames: ['a', 'b'],
      client: sdkClient(),
      timeoutMs: 30_000,
    })
    const caller = new AbortController()
    setTimeout(() => caller.abort(), 200)
    const { error, ms } = await rejection(
      publisher.publish({ keys: ['k:1'] }, { signal: caller.signal }),
    )
    expect(error).toBeInstanceOf(PublishError)
    expect((error as PublishError).failedKeys).toEqual(['k:1'])
    expect((error as PublishError).failedStreams).toEqual(['a', 'b'])
    expect((error as PublishError).errorCodes).toContain('AbortError')
    expect(ms).toBeLessThan(10_000)
  }, 30_000)

  it('an already aborted signal sends nothing', async () => {
    const before = accepted
    const publisher = createPublisher({ streamName: 's', client: sdkClient() })
    const { error } = await rejection(
      publisher.invalidate('users:9', { signal: AbortSignal.abort() }),
    )
    expect(error).toBeInstanceOf(PublishError)
    expect((error as PublishError).failedKeys).toEqual(['users:9'])
    expect(accepted).toBe(before)
  })
})
