import { afterEach, describe, expect, it } from 'vitest'
import { createPublisher, type PollResult, StreamReader } from '../../../src/index.js'
import { container, Source } from '../../support/containers.js'
import { useKinesis } from '../../support/kinesis.js'
import { type FaultKind, type LimitsProxy, startLimitsProxy } from '../../support/limits-proxy.js'

const kinesis = useKinesis()
let proxy: LimitsProxy
afterEach(async () => {
  await proxy?.close()
})

/** A reader of `stream` through the proxy on `path`, and what its polls applied. */
const readerOn = (stream: string, path: 'sdk' | 'lean') => {
  const reader = new StreamReader({
    stream,
    client: proxy.client(),
    readPath: path,
    clockSkewMs: 5_000,
    maxPagesPerShard: 5,
  })
  const keys: string[] = []
  const poll = (signal?: AbortSignal) =>
    reader.poll({ apply: (i) => keys.push(...i.keys), ...(signal === undefined ? {} : { signal }) })
  return { poll, keys }
}

/** What a poll says, without what differs from run to run. */
const summary = (result: PollResult) => ({
  ok: result.ok,
  throttled: result.throttled,
  records: result.records,
  errors: result.errors.map((error) => error.name),
  calls: result.calls,
})

describe('the lean read path under faults (limits proxy)', () => {
  it.each<[FaultKind, boolean]>([
    ['throttle', false],
    ['5xx', true],
    ['reset', true],
  ])(
    'a GetRecords %s: the poll ends as on the SDK path, and nothing is lost',
    async (kind, retried) => {
      const stream = await kinesis.createStream(1)
      proxy = await startLimitsProxy({ target: kinesis.endpoint, enforceLimits: false })
      const readers = { sdk: readerOn(stream, 'sdk'), lean: readerOn(stream, 'lean') }
      for (const reader of Object.values(readers)) expect((await reader.poll()).ok).toBe(true)
      await createPublisher({ streamName: stream, client: kinesis.client() }).invalidate('users:1')
      const faulted: Record<string, ReturnType<typeof summary>> = {}
      for (const [path, reader] of Object.entries(readers)) {
        proxy.inject({ kind, operations: ['GetRecords'], times: 1 })
        faulted[path] = summary(await reader.poll())
      }
      expect(faulted.lean).toEqual(faulted.sdk)
      // A transient failure is retried within the poll; a throttle waits for the next one.
      expect(faulted.lean?.ok).toBe(retried)
      expect(faulted.lean?.throttled).toBe(kind === 'throttle')
      for (const reader of Object.values(readers)) {
        if (!retried) expect((await reader.poll()).ok).toBe(true)
        expect(reader.keys).toEqual(['users:1'])
      }
    },
  )

  it("a hung GetRecords is cut off by the poll's signal with AbortError, before the timeout", async () => {
    const stream = await kinesis.createStream(2)
    proxy = await startLimitsProxy({ target: kinesis.endpoint, enforceLimits: false })
    const { poll } = readerOn(stream, 'lean')
    expect((await poll()).ok).toBe(true)
    proxy.inject({ kind: 'hang', operations: ['GetRecords'] })
    const result = await poll(AbortSignal.timeout(100))
    expect(result.ok).toBe(false)
    // The request timeout (2 s) would say TimeoutError: the abort came first, on every shard.
    expect(result.errors.map((error) => error.name)).toEqual(['AbortError', 'AbortError'])
    proxy.clearFaults()
    expect((await poll()).ok).toBe(true)
  })

  it('a container reading on the lean path keeps its poll budget against a hung stream', async () => {
    const stream = await kinesis.createStream(1)
    proxy = await startLimitsProxy({ target: kinesis.endpoint, enforceLimits: false })
    const source = new Source()
    source.values.set('users:1', 'v1')
    const c = container(source, stream, proxy.client(), {
      pollIntervalMs: 0,
      pollBudgetMs: 500,
      readPath: 'lean',
    })
    await c.invoke({ op: 'get', key: 'users:1' })
    await c.invoke({ op: 'get', key: 'users:1' })
    expect(c.lastLog()).toMatchObject({ hits: 1, polled: true })
    proxy.inject({ kind: 'hang', operations: ['GetRecords'] })
    await c.invoke({ op: 'get', key: 'users:1' })
    // The poll failed within its budget (not the 2 s request timeout), and the request went on.
    expect(c.lastLog()).toMatchObject({ polled: true, streamError: expect.any(String) })
    expect(c.lastLog().streamMs).toBeLessThan(2_000)
    proxy.clearFaults()
  })
})
