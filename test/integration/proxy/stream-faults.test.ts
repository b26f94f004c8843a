import { setTimeout as sleep } from 'node:timers/promises'
import { afterEach, describe, expect, it } from 'vitest'
import {
  type Clock,
  createPublisher,
  createScache,
  defaults,
  type InvocationLog,
} from '../../../src/index.js'
import { container, Source } from '../../support/containers.js'
import { useKinesis } from '../../support/kinesis.js'
import { type FaultKind, type LimitsProxy, startLimitsProxy } from '../../support/limits-proxy.js'

const kinesis = useKinesis()
let proxy: LimitsProxy
afterEach(async () => {
  await proxy?.close()
})

/** A container reading through the proxy, one key cached, and a writer going straight to Kinesis. */
const setup = async (
  options: { pollBudgetMs?: number; maxStalenessMs?: number; clock?: Clock } = {},
) => {
  const stream = await kinesis.createStream(1)
  proxy = await startLimitsProxy({ target: kinesis.endpoint })
  const source = new Source()
  source.values.set('users:1', 'v1')
  const c = container(source, stream, proxy.client(), { pollIntervalMs: 0, ...options })
  await c.invoke({ op: 'get', key: 'users:1' })
  await c.invoke({ op: 'get', key: 'users:1' })
  expect(c.lastLog()).toMatchObject({ hits: 1, polled: true })
  const publisher = createPublisher({ streamName: stream, client: kinesis.client() })
  return { c, source, publisher }
}

/** Invokes `get users:1` every few ms until `done`, at most `ms`; returns the lines logged. */
const requestUntil = async (
  c: Awaited<ReturnType<typeof setup>>['c'],
  done: (line: InvocationLog, polls: InvocationLog[]) => boolean,
  ms = 5_000,
): Promise<InvocationLog[]> => {
  const lines: InvocationLog[] = []
  const until = Date.now() + ms
  while (Date.now() < until) {
    await c.invoke({ op: 'get', key: 'users:1' })
    const line = c.lastLog()
    lines.push(line)
    if (
      done(
        line,
        lines.filter((l) => l.polled),
      )
    )
      return lines
    await sleep(5)
  }
  throw new Error(`not done after ${ms} ms`)
}

describe('throttling (limits proxy)', () => {
  // The backoff is measured on the clock the container is given: the test's own, moved to 1 ms
  // either side of each delay, so that a busy machine cannot move a request across a boundary.
  it('a throttled container backs off with jitter, doubling per failure, and recovers gradually', async () => {
    let now = Date.now()
    const { c } = await setup({ clock: { now: () => now } })
    /** A request `ms` after the last, on the container's clock. */
    const requestIn = async (ms: number): Promise<InvocationLog> => {
      now += ms
      await c.invoke({ op: 'get', key: 'users:1' })
      return c.lastLog()
    }
    /** Until 1 ms before `backoffMs` has passed since the poll, a request neither polls nor hits. */
    const expectHeldFor = async (backoffMs: number | undefined): Promise<void> => {
      expect(backoffMs).toBeGreaterThan(1)
      for (const ms of [1, (backoffMs ?? 0) - 2]) {
        const held = await requestIn(ms)
        expect(held).toMatchObject({
          polled: false,
          streamCalls: 0,
          bypassed: 1,
          pollDeferred: true,
        })
      }
    }
    const stop = proxy.inject({ kind: 'throttle', operations: ['GetRecords'] })
    proxy.resetStats()
    let line = await requestIn(0)
    // Level n waits 2^n × 100 ms, jittered down to half.
    for (const level of [1, 2, 3]) {
      expect(line).toMatchObject({ polled: true, throttled: true })
      const ceiling = 100 * 2 ** level
      expect(line.backoffMs).toBeGreaterThanOrEqual(ceiling / 2)
      expect(line.backoffMs).toBeLessThanOrEqual(ceiling)
      await expectHeldFor(line.backoffMs)
      if (level < 3) line = await requestIn(2)
    }
    // One attempt per poll: the SDK never retried (or slept) inside a request.
    expect(proxy.stats().faults.throttle).toBe(3)
    expect(proxy.stats().calls.GetRecords).toBe(3)

    stop()
    // Each success halves the backoff's exponent: after 3 failures (8× the base delay), the
    // first success still waits 2×, the second none.
    const firstSuccess = await requestIn(2)
    expect(firstSuccess).toMatchObject({ polled: true, streamCalls: 1 })
    expect(firstSuccess.streamError).toBeUndefined()
    expect(firstSuccess.backoffMs).toBeGreaterThanOrEqual(100)
    expect(firstSuccess.backoffMs).toBeLessThanOrEqual(200)
    // A request that finds a poll owed but held back by the backoff is no fresher than after a
    // failed poll: it bypasses the cache, even though the last poll succeeded.
    await expectHeldFor(firstSuccess.backoffMs)
    const secondSuccess = await requestIn(2)
    expect(secondSuccess).toMatchObject({ polled: true, hits: 1, bypassed: 0 })
    expect(secondSuccess.streamError).toBeUndefined()
    expect(secondSuccess.backoffMs).toBeUndefined()
    expect(await requestIn(0)).toMatchObject({ polled: true, hits: 1, bypassed: 0 })
  })

  it('the backoff stops growing at half of maxStalenessMs: two attempts per staleness window', async () => {
    let now = Date.now()
    const { c } = await setup({ maxStalenessMs: 2_000, clock: { now: () => now } })
    proxy.inject({ kind: 'throttle', operations: ['GetRecords'] })
    const backoffs: number[] = []
    for (let poll = 0; poll < 6; poll++) {
      await c.invoke({ op: 'get', key: 'users:1' })
      expect(c.lastLog()).toMatchObject({ polled: true, throttled: true })
      const backoffMs = c.lastLog().backoffMs ?? 0
      backoffs.push(backoffMs)
      // 1 ms past the logged delay (rounded to 0.01 ms): the next request polls.
      now += backoffMs + 1
    }
    // 200, 400, 800 ms ceilings, then 1,000 ms (not 1,600 and 3,200), each jittered down to half.
    expect(backoffs.slice(3).every((ms) => ms >= 500 && ms <= 1_000)).toBe(true)
    expect(Math.max(...backoffs)).toBeLessThanOrEqual(1_000)
  })

  it('the real limit: containers over 5 reads/s on a shard are throttled, back off, and lose nothing', async () => {
    const stream = await kinesis.createStream(1)
    proxy = await startLimitsProxy({ target: kinesis.endpoint })
    const source = new Source()
    source.values.set('users:1', 'v1')
    const fleet = Array.from({ length: 8 }, () =>
      container(source, stream, proxy.client(), { pollIntervalMs: 0 }),
    )
    for (const c of fleet) await c.invoke({ op: 'get', key: 'users:1' })
    const publisher = createPublisher({ streamName: stream, client: kinesis.client() })
    proxy.resetStats()
    const started = Date.now()
    let requests = 0
    while (Date.now() - started < 2_000) {
      await Promise.all(fleet.map((c) => c.invoke({ op: 'get', key: 'users:1' })))
      requests += fleet.length
      await sleep(10)
    }
    const { calls, throttled } = proxy.stats()
    // Polling before every request would send one GetRecords per request; backoff sends a fraction.
    expect(throttled.GetRecords).toBeGreaterThan(0)
    expect(calls.GetRecords).toBeLessThan(requests / 4)

    // An invalidation written now reaches every container once its backoff allows a poll.
    source.values.set('users:1', 'v2')
    await publisher.invalidate('users:1')
    const acked = Date.now()
    for (const c of fleet) {
      while ((await c.invoke({ op: 'get', key: 'users:1' })) !== 'v2') await sleep(20)
    }
    // The backoff's ceiling (half the staleness bound), with margin.
    expect(Date.now() - acked).toBeLessThan(defaults.maxStalenessMs / 2 + 1_000)
  })
})

describe('outages (limits proxy)', () => {
  it.each<FaultKind>(['5xx', 'reset', 'hang'])(
    '%s: the poll fails within its budget, reads bypass the cache, and what was written meanwhile applies on recovery',
    async (kind) => {
      const { c, source, publisher } = await setup({ pollBudgetMs: 200 })
      const stop = proxy.inject({ kind, operations: ['GetRecords'] })
      source.values.set('users:1', 'v2')
      await publisher.invalidate('users:1')

      expect(await c.invoke({ op: 'get', key: 'users:1' })).toBe('v2')
      const failed = c.lastLog()
      expect(failed).toMatchObject({ polled: true, bypassed: 1, hits: 0 })
      // The log line names the failure: the service's code, the socket's, or the poll budget.
      const named: Partial<Record<FaultKind, RegExp>> = {
        '5xx': /^InternalFailure: /,
        reset: /ECONNRESET/,
        hang: /^AbortError: /,
      }
      expect(failed.streamError).toMatch(named[kind] ?? /^$/)
      expect(failed.backoffMs).toBeGreaterThan(0)
      // A hang is cut by the poll budget, not by the client's 2 s request timeout.
      expect(failed.streamMs).toBeLessThan(1_000)
      // The warm-up poll and this one; a 5xx or a reset is retried twice within the budget (a
      // hang is cut by the budget itself).
      expect(proxy.stats().calls.GetRecords).toBe(kind === 'hang' ? 2 : 4)

      stop()
      await sleep((failed.backoffMs ?? 0) + 5)
      expect(await c.invoke({ op: 'get', key: 'users:1' })).toBe('v2')
      expect(c.lastLog()).toMatchObject({ polled: true, evicted: 1, bypassed: 0 })
      expect(c.lastLog().streamError).toBeUndefined()
    },
  )
})

describe('replicated streams (limits proxy)', () => {
  it('throttled readers move off a crowded replica, clearing their caches, and miss no invalidation', async () => {
    const names = [await kinesis.createStream(1), await kinesis.createStream(1)]
    const [crowded, spare] = names as [string, string]
    proxy = await startLimitsProxy({ target: kinesis.endpoint })
    const source = new Map([['users:1', 'v1']])
    const fleet = Array.from({ length: 8 }, () => {
      const lines: InvocationLog[] = []
      const instance = createScache({
        stream: { names, client: proxy.client() },
        // random() 0: every container picks the first replica (and the shortest jitter).
        clock: { random: () => 0 },
        pollIntervalMs: 0,
        log: (line) => lines.push(line),
      })
      /** The replica read after each invocation, one per line. */
      const streams: string[] = []
      return { instance, lines, streams }
    })
    const read = async ({ instance, streams }: (typeof fleet)[number]) => {
      const invocation = await instance.begin()
      const value = await invocation.cache.getOrLoad('users:1', () => source.get('users:1'))
      invocation.end()
      streams.push(instance.diagnostics().stream)
      return value
    }
    expect(fleet.every(({ instance }) => instance.diagnostics().stream === crowded)).toBe(true)

    // Eight containers polling before every request: over the shard's 5 reads/s.
    const until = Date.now() + 2_000
    while (Date.now() < until) {
      await Promise.all(fleet.map(read))
      await sleep(10)
    }
    const lines = fleet.flatMap((c) => c.lines)
    const switches = lines.filter((line) => line.cleared === 'replica-switched')
    expect(switches.length).toBeGreaterThan(0)
    // Only a throttled poll moves a container, and it moves to the other replica. Where the fleet
    // is when the loop ends is not asserted: eight containers are over both replicas' limits, so
    // they go back and forth, and a slow machine can find them all on one.
    expect(switches.every((line) => line.throttled === true)).toBe(true)
    for (const { lines: own, streams } of fleet) {
      streams.forEach((stream, index) => {
        const before = streams[index - 1] ?? crowded
        const moved = own[index]?.cleared === 'replica-switched'
        expect(stream).toBe(moved ? (before === crowded ? spare : crowded) : before)
      })
    }
    expect(fleet.some(({ streams }) => streams.includes(spare))).toBe(true)

    // A write now reaches every container, whichever replica it reads.
    source.set('users:1', 'v2')
    await createPublisher({ streamNames: names, client: kinesis.client() }).invalidate('users:1')
    for (const c of fleet) while ((await read(c)) !== 'v2') await sleep(20)
  })

  it('a single stream is never left, however throttled', async () => {
    const { c } = await setup()
    const stream = c.instance.diagnostics().stream
    proxy.inject({ kind: 'throttle', operations: ['GetRecords'] })
    const throttled = await requestUntil(c, (_, polls) => polls.length === 3)
    expect(throttled.filter((line) => line.polled).every((line) => line.throttled)).toBe(true)
    expect(throttled.every((line) => line.cleared === undefined)).toBe(true)
    expect(c.instance.diagnostics().stream).toBe(stream)
  })
})

describe('transient failures (limits proxy)', () => {
  it('a 5xx or reset is retried within the poll: the poll succeeds and the cache is used; a throttle is not', async () => {
    const stream = await kinesis.createStream(1)
    proxy = await startLimitsProxy({ target: kinesis.endpoint })
    const instance = createScache({
      stream: { name: stream, client: proxy.client() },
      pollIntervalMs: 0,
      log: false,
    })
    instance.cache.set('users:1', 'Ada')
    for (const kind of ['5xx', 'reset'] as const) {
      const stop = proxy.inject({ kind, operations: ['GetRecords'], times: 1 })
      const invocation = await instance.begin()
      expect(invocation.poll?.ok).toBe(true)
      expect(invocation.cache.get('users:1')).toBe('Ada')
      invocation.end()
      stop()
    }
    const stop = proxy.inject({ kind: 'throttle', operations: ['GetRecords'], times: 1 })
    const throttled = await instance.begin()
    expect(throttled.poll?.throttled).toBe(true)
    expect(throttled.cache.bypassed).toBe(true)
    throttled.end()
    stop()
  })
})
