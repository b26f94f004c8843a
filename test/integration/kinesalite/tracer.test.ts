import { createSocket } from 'node:dgram'
import type { AddressInfo } from 'node:net'
import middy from '@middy/core'
import type { Context } from 'aws-lambda'
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import {
  createPublisher,
  type InvocationLog,
  type ScacheOptions,
  scache,
  type TracerLike,
  type WithCache,
} from '../../../src/index.js'
import { lambdaContext } from '../../support/containers.js'
import { failCommand, useKinesis } from '../../support/kinesis.js'

/**
 * The real Powertools Tracer and aws-xray-sdk-core, as in a Lambda function: the SDK streams each
 * closed subsegment over UDP to the X-Ray daemon, which here is a socket of this test.
 */
const kinesis = useKinesis()
const daemon = createSocket('udp4')
let documents: XRayDocument[] = []

interface XRayDocument {
  readonly id: string
  readonly name: string
  readonly parent_id: string
  readonly trace_id: string
  readonly start_time: number
  readonly end_time: number
  readonly annotations?: Record<string, unknown>
  readonly metadata?: Record<string, Record<string, unknown>>
  readonly fault?: boolean
  readonly cause?: { readonly exceptions: readonly { readonly message: string; type: string }[] }
}

const traceId = '1-5759e988-bd862e3fe1be46a994272793'

beforeAll(async () => {
  daemon.on('message', (message) => {
    // The daemon protocol: a JSON header line, then the segment document.
    const [, document] = message.toString().split('\n')
    if (document !== undefined) documents.push(JSON.parse(document))
  })
  await new Promise<void>((resolve) => daemon.bind(0, '127.0.0.1', resolve))
  const { port } = daemon.address() as AddressInfo
  // What the Lambda runtime sets, read by the X-Ray SDK when it is imported (below).
  vi.stubEnv('AWS_XRAY_DAEMON_ADDRESS', `127.0.0.1:${port}`)
  vi.stubEnv('AWS_EXECUTION_ENV', 'AWS_Lambda_nodejs20.x')
  vi.stubEnv('LAMBDA_TASK_ROOT', '/var/task')
  vi.stubEnv('AWS_LAMBDA_FUNCTION_NAME', 'users')
  vi.stubEnv('_HANDLER', 'index.handler')
  vi.stubEnv('_X_AMZN_TRACE_ID', `Root=${traceId};Parent=53995c3f42cd8ad8;Sampled=1`)
})
afterAll(() => {
  daemon.close()
  vi.unstubAllEnvs()
})
beforeEach(() => {
  documents = []
})

/** Waits for the documents the SDK sent (UDP on loopback: they arrive within milliseconds). */
const sent = async (count: number): Promise<XRayDocument[]> => {
  for (let i = 0; i < 100 && documents.length < count; i++)
    await new Promise((r) => setTimeout(r, 10))
  return documents
}

/** The handler, traced by Powertools' middleware unless `tracer` is not a Powertools Tracer. */
const usersApi = async (options: Partial<ScacheOptions> & { tracer: TracerLike }) => {
  const { Tracer } = await import('@aws-lambda-powertools/tracer')
  const { captureLambdaHandler } = await import('@aws-lambda-powertools/tracer/middleware')
  const stream = await kinesis.createStream(1)
  const client = kinesis.client()
  const lines: InvocationLog[] = []
  const cache = scache({
    stream: { name: stream, client },
    pollIntervalMs: 0,
    log: (line) => lines.push(line),
    ...options,
  })
  const handler = middy(async (event: { id: string }, context: Context & WithCache) =>
    context.cache.getOrLoad(`users:${event.id}`, async () => 'Ada'),
  )
  // Powertools' middleware opens the handler's subsegment, so it runs before scache's.
  if (options.tracer instanceof Tracer) handler.use(captureLambdaHandler(options.tracer))
  handler.use(cache)
  const invoke = (event: { id: string }) => handler(event, lambdaContext() as Context & WithCache)
  const publisher = createPublisher({ streamName: stream, client: kinesis.client() })
  return { invoke, lines, publisher, client }
}

describe('X-Ray through Powertools Tracer (the real Tracer and X-Ray SDK, no hard dependency)', () => {
  it('each invocation is a scache subsegment of the handler, annotated, with a scache.poll child', async () => {
    const { Tracer } = await import('@aws-lambda-powertools/tracer')
    const tracer = new Tracer({ serviceName: 'users-api' })
    const { invoke, lines, publisher } = await usersApi({ tracer })

    expect(await invoke({ id: '1' })).toBe('Ada')
    await publisher.invalidate('users:1')
    expect(await invoke({ id: '1' })).toBe('Ada')
    const docs = await sent(5)

    const handlers = docs.filter((doc) => doc.name === '## index.handler')
    const spans = docs.filter((doc) => doc.name === 'scache')
    const polls = docs.filter((doc) => doc.name === 'scache.poll')
    expect(handlers).toHaveLength(2)
    expect(spans).toHaveLength(2)
    // Nothing was cached before the first request, so only the second one read the stream.
    expect(polls).toHaveLength(1)
    for (const doc of docs) expect(doc.trace_id).toBe(traceId)
    expect(spans.map((span) => span.parent_id)).toEqual(handlers.map((h) => h.id))
    expect(polls[0]?.parent_id).toBe(spans[1]?.id)
    expect(polls[0]?.annotations).toEqual({ scache_records: 1, scache_shards: 1 })
    expect(polls[0]?.start_time).toBeGreaterThanOrEqual(spans[1]?.start_time ?? Number.NaN)
    expect(polls[0]?.end_time).toBeLessThanOrEqual(spans[1]?.end_time ?? Number.NaN)

    expect(lines).toHaveLength(2)
    for (const [i, line] of lines.entries()) {
      expect(spans[i]?.annotations).toEqual({
        scache_hits: line.hits,
        scache_misses: line.misses,
        scache_bypassed: line.bypassed,
        scache_evicted: line.evicted,
        scache_polled: line.polled,
        scache_staleness_ms: line.stalenessMs,
      })
      expect(spans[i]?.metadata?.scache?.invocation).toEqual(line)
    }
    expect(lines[1]).toMatchObject({ polled: true, evicted: 1, misses: 1 })
  })

  it('concurrent invocations (Managed Instances) joining one poll do not count its reads twice', async () => {
    const { Tracer } = await import('@aws-lambda-powertools/tracer')
    const tracer = new Tracer({ serviceName: 'users-api' })
    const { invoke, lines, publisher } = await usersApi({ tracer })
    await invoke({ id: '1' })
    await publisher.invalidate('users:1')
    documents = []
    await Promise.all([invoke({ id: '1' }), invoke({ id: '1' }), invoke({ id: '1' })])
    const polls = (await sent(9)).filter((doc) => doc.name === 'scache.poll')
    expect(polls).toHaveLength(3)
    const joined = lines.slice(1).filter((line) => line.pollJoined === true)
    expect(joined).toHaveLength(2)
    // One poll read the record; the two that waited for it say so, and read nothing themselves.
    expect(polls.map((poll) => poll.annotations)).toEqual(
      expect.arrayContaining([
        { scache_records: 1, scache_shards: 1 },
        { scache_poll_joined: true },
        { scache_poll_joined: true },
      ]),
    )
  })

  it('a failed poll is the poll subsegment’s fault, and the invocation is annotated', async () => {
    const { Tracer } = await import('@aws-lambda-powertools/tracer')
    const tracer = new Tracer({ serviceName: 'users-api' })
    const { invoke, client } = await usersApi({ tracer, onStreamError: 'bypass' })
    let failing = false
    failCommand(client, 'GetRecords', 'InternalFailure', () => failing)

    await invoke({ id: '1' })
    failing = true
    await invoke({ id: '1' })
    const docs = await sent(5)

    const poll = docs.find((doc) => doc.name === 'scache.poll')
    expect(poll?.fault).toBe(true)
    expect(poll?.cause?.exceptions[0]).toMatchObject({
      type: 'InternalFailure',
      message: 'injected InternalFailure',
    })
    const span = docs.filter((doc) => doc.name === 'scache')[1]
    expect(span?.annotations).toMatchObject({ scache_stream_error: true, scache_bypassed: 1 })
  })

  it('sends nothing when tracing is off, and a tracer that throws never fails a request', async () => {
    const { Tracer } = await import('@aws-lambda-powertools/tracer')
    const disabled = new Tracer({ enabled: false })
    // Off, Powertools hands out a dummy segment: scache does not even ask for it.
    const getSegment = vi.spyOn(disabled, 'getSegment')
    const off = await usersApi({ tracer: disabled })
    await off.invoke({ id: '1' })
    await off.invoke({ id: '1' })
    expect(off.lines).toHaveLength(2)
    expect(getSegment).not.toHaveBeenCalled()

    const broken: TracerLike = {
      getSegment: () => ({
        addNewSubsegment: () => {
          throw new Error('tracer bug')
        },
      }),
    }
    const { invoke, lines } = await usersApi({ tracer: broken })
    expect(await invoke({ id: '2' })).toBe('Ada')
    expect(await invoke({ id: '2' })).toBe('Ada')
    expect(lines).toHaveLength(2)
    await new Promise((r) => setTimeout(r, 50))
    expect(documents.filter((doc) => doc.name.startsWith('scache'))).toEqual([])
  })
})
