import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createDefaultClient } from '../../../src/index.js'
import { isTransient } from '../../../src/stream/errors.js'
import { LeanReadClient, MAX_RESPONSE_BYTES } from '../../../src/stream/lean.js'
import { type ReadClient, sdkReadClient } from '../../../src/stream/read-client.js'

// A server whose answers each test sets: the faults and edge cases Kinesis (or a proxy before it)
// can give, each answered alike to the SDK path and the lean one.
type Answer = (request: IncomingMessage, response: ServerResponse, body: string) => void
let answer: Answer = (_, response) => response.end('{}')
const received: { headers: IncomingMessage['headers']; body: string }[] = []
const server = createServer((request, response) => {
  const chunks: Buffer[] = []
  request.on('data', (chunk: Buffer) => chunks.push(chunk))
  request.on('end', () => {
    const body = Buffer.concat(chunks).toString('utf8')
    received.push({ headers: request.headers, body })
    answer(request, response, body)
  })
})
let endpoint = ''
const config = () => ({
  endpoint,
  region: 'us-east-1',
  credentials: { accessKeyId: 'AKID', secretAccessKey: 'secret', sessionToken: 'token' },
})
let clients: { name: string; read: ReadClient }[] = []
let lean: LeanReadClient
beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const client = createDefaultClient({ maxAttempts: 1, requestTimeoutMs: 300 }, config())
  const leanClient = createDefaultClient({ maxAttempts: 1 }, config())
  lean = new LeanReadClient(leanClient, { requestTimeoutMs: 300 })
  clients = [
    { name: 'sdk', read: sdkReadClient(client) },
    { name: 'lean', read: lean },
  ]
  // The first call of each kind goes through the SDK, which resolves the endpoint: the tests
  // below are of the lean path's own calls.
  answer = json(200, { Records: [], NextShardIterator: 'x', ShardIterator: 'x' })
  await lean.getRecords({ ShardIterator: 'it' }, undefined)
  await lean.getShardIterator(
    { StreamName: 's', ShardId: 'x', ShardIteratorType: 'LATEST' },
    undefined,
  )
  leanClient.middlewareStack.add(
    (next) => (args) => {
      viaSdk++
      return next(args)
    },
    { step: 'initialize' },
  )
})
let viaSdk = 0
afterEach(() => {
  // Nothing the lean client sent after its first calls went through its SDK client.
  expect(viaSdk).toBe(0)
})
afterAll(async () => {
  lean.destroy()
  server.closeAllConnections()
  await new Promise((resolve) => server.close(resolve))
})

const json = (status: number, body: unknown, headers: Record<string, string> = {}): Answer => {
  return (_, response) => {
    response.writeHead(status, { 'content-type': 'application/x-amz-json-1.1', ...headers })
    response.end(typeof body === 'string' ? body : JSON.stringify(body))
  }
}

/** What each path threw for one GetRecords: name, status, fault, retryability, or `ok`. */
const outcomes = async () => {
  const out: Record<string, unknown> = {}
  for (const { name, read } of clients) {
    try {
      await read.getRecords({ ShardIterator: 'it', Limit: 5 }, undefined)
      out[name] = 'ok'
    } catch (error) {
      const e = error as Error & { $metadata?: { httpStatusCode?: number }; $fault?: string }
      out[name] = {
        name: e.name,
        status: e.$metadata?.httpStatusCode,
        fault: e.$fault,
        transient: isTransient(e, e.name),
      }
    }
  }
  return out
}

describe('the lean read client, against the SDK on the same answers', () => {
  it.each([
    ['a throttle', json(400, { __type: 'ProvisionedThroughputExceededException', message: 'x' })],
    ['an expired iterator', json(400, { __type: 'ExpiredIteratorException', message: 'x' })],
    [
      'a namespaced error code',
      json(400, { __type: 'com.amazonaws.kinesis#ResourceNotFoundException', message: 'x' }),
    ],
    [
      'an error in the header only',
      json(400, '{}', { 'x-amzn-errortype': 'KMSThrottlingException:http://x' }),
    ],
    ['a 500 InternalFailure', json(500, { __type: 'InternalFailure' })],
    ['a 502 with no body', json(502, '')],
  ])('%s: the same error name, status, fault and retryability', async (_, fault) => {
    answer = fault
    const out = await outcomes()
    expect(out.lean).toEqual(out.sdk)
    expect(out.lean).not.toBe('ok')
  })

  it("a 503 whose body is not JSON (a proxy's page): retried as the SDK retries it", async () => {
    answer = json(503, '<html>Service Unavailable</html>')
    const out = await outcomes()
    // The SDK reports its parser's SyntaxError; the lean path the protocol's 'Unknown'.
    expect(out.sdk).toMatchObject({ name: 'SyntaxError', status: 503, transient: true })
    expect(out.lean).toEqual({ name: 'Unknown', status: 503, fault: 'server', transient: true })
  })

  it('a reset connection: ECONNRESET on both, retried as transient', async () => {
    answer = (request) => request.socket.destroy()
    const out = await outcomes()
    expect(out.lean).toMatchObject({ transient: true })
    expect(out.sdk).toMatchObject({ transient: true })
  })

  it('a server that never answers: TimeoutError after the request timeout, as the SDK', async () => {
    answer = () => {}
    const started = performance.now()
    const out = await outcomes()
    expect(out.lean).toMatchObject({ name: 'TimeoutError' })
    expect(out.sdk).toMatchObject({ name: 'TimeoutError' })
    // Both paths waited the timeout, not forever: well under the test's own timeout.
    expect(performance.now() - started).toBeLessThan(5_000)
  })

  it('an abort ends a call at once with AbortError, and a spent signal sends nothing', async () => {
    answer = () => {}
    const controller = new AbortController()
    const call = lean.getRecords({ ShardIterator: 'it' }, controller.signal).catch((e) => e)
    await new Promise((resolve) => setTimeout(resolve, 20))
    controller.abort()
    expect(await call).toMatchObject({ name: 'AbortError' })
    received.length = 0
    const spent = await lean
      .getRecords({ ShardIterator: 'it' }, controller.signal)
      .catch((e: Error) => e)
    expect(spent).toBeInstanceOf(Error)
    expect(received).toHaveLength(0)
  })

  it('an answer larger than Kinesis gives is refused, not read into memory', async () => {
    answer = (_, response) => {
      response.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' })
      const chunk = Buffer.alloc(1 << 20, 0x20)
      for (let i = 0; i <= MAX_RESPONSE_BYTES >> 20; i++) response.write(chunk)
      response.end('{}')
    }
    const error = await lean.getRecords({ ShardIterator: 'it' }, undefined).catch((e: Error) => e)
    expect(error).toMatchObject({ name: 'ResponseTooLarge' })
    answer = json(200, {}, { 'content-length': String(MAX_RESPONSE_BYTES + 1) })
  })

  it('decodes records as the SDK does: bytes, sequence numbers, arrival times, child shards', async () => {
    const data = Buffer.from([0, 1, 2, 250, 255, 10])
    answer = json(200, {
      Records: [
        {
          SequenceNumber: '49590338271490256608559692538361571095921575989136588898',
          ApproximateArrivalTimestamp: 1763700000.123,
          Data: data.toString('base64'),
          PartitionKey: 'k',
          EncryptionType: 'NONE',
        },
        {
          SequenceNumber: '2',
          ApproximateArrivalTimestamp: 1763700001,
          Data: '',
          PartitionKey: 'p',
        },
      ],
      NextShardIterator: 'next',
      MillisBehindLatest: 7,
      ChildShards: [
        {
          ShardId: 'shardId-000000000001',
          ParentShards: ['shardId-000000000000'],
          HashKeyRange: { StartingHashKey: '0', EndingHashKey: '1' },
        },
      ],
    })
    const [sdk, leanOut] = await Promise.all(
      clients.map(({ read }) => read.getRecords({ ShardIterator: 'it' }, undefined)),
    )
    const { $metadata: _, ...sdkOut } = sdk as typeof sdk & { $metadata?: unknown }
    expect(leanOut).toEqual(sdkOut)
    expect([...(leanOut?.Records?.[0]?.Data ?? [])]).toEqual([...data])
    expect(leanOut?.Records?.[0]?.ApproximateArrivalTimestamp?.getTime()).toBe(1763700000123)
  })

  it('sends what the SDK sends: target, content type, body, a SigV4 signature over them', async () => {
    answer = json(200, { ShardIterator: 'si' })
    const timestamp = new Date(1763700000500)
    const input = {
      StreamName: 's',
      ShardId: 'shardId-000000000000',
      ShardIteratorType: 'AT_TIMESTAMP' as const,
      Timestamp: timestamp,
    }
    received.length = 0
    for (const { read } of clients)
      expect(await read.getShardIterator(input, undefined)).toEqual(
        expect.objectContaining({ ShardIterator: 'si' }),
      )
    const [sdk, leanSent] = received
    for (const header of ['x-amz-target', 'content-type', 'x-amz-security-token', 'host'])
      expect(leanSent?.headers[header]).toBe(sdk?.headers[header])
    expect(JSON.parse(leanSent?.body ?? '')).toEqual(JSON.parse(sdk?.body ?? ''))
    const scope = /^AWS4-HMAC-SHA256 Credential=AKID\/\d{8}\/us-east-1\/kinesis\/aws4_request, /
    expect(leanSent?.headers.authorization).toMatch(scope)
    expect(sdk?.headers.authorization).toMatch(scope)
    // The signature covers the request as it reached the server: signing it again, at the
    // date it was signed, with the SDK's own signer, gives the same signature.
    const client = createDefaultClient({ maxAttempts: 1 }, config())
    const signer = await client.config.signer()
    const amzDate = String(leanSent?.headers['x-amz-date'])
    const date = new Date(
      `${amzDate.slice(0, 4)}-${amzDate.slice(4, 6)}-${amzDate.slice(6, 8)}T${amzDate.slice(9, 11)}:${amzDate.slice(11, 13)}:${amzDate.slice(13, 15)}Z`,
    )
    const headers: Record<string, string> = {}
    for (const name of ['host', 'content-type', 'content-length', 'x-amz-target'])
      headers[name] = String(leanSent?.headers[name])
    const url = new URL(endpoint)
    const again = (await signer.sign(
      {
        method: 'POST',
        protocol: url.protocol,
        hostname: url.hostname,
        port: Number(url.port),
        path: '/',
        query: {},
        headers,
        body: leanSent?.body,
      } as never,
      { signingDate: date },
    )) as { headers: Record<string, string> }
    expect(again.headers.authorization).toBe(leanSent?.headers.authorization)
    client.destroy()
  })
})
