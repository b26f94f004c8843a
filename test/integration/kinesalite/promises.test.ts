import { describe, expect, it } from 'vitest'
import { CircuitBreaker, MAX_CIRCUITS } from '../../../src/core/breaker.js'
import { createPublisher, createScache, LoadTimeoutError } from '../../../src/index.js'
import { failCommand, useKinesis } from '../../support/kinesis.js'

const kinesis = useKinesis()

/** A loader the test settles by hand. */
const deferred = <T>() => {
  let resolve: (value: T) => void = () => {}
  let reject: (error: unknown) => void = () => {}
  const promise = new Promise<T>((yes, no) => {
    resolve = yes
    reject = no
  })
  return { promise, resolve, reject }
}

/** A wall clock the test moves: the staleness bound and TTLs, not the machine's load, decide. */
const testClock = () => {
  const clock = { at: Date.now(), now: () => clock.at }
  return clock
}

describe('the staleness bound holds when a value is served (kinesalite)', () => {
  it('a load that began within the bound and failed after it gets no stale value', async () => {
    const stream = await kinesis.createStream(1)
    const client = kinesis.client()
    let failing = false
    failCommand(client, 'GetRecords', 'InternalFailure', () => failing)
    const clock = testClock()
    const instance = createScache({
      stream: { name: stream, client },
      clock: { now: clock.now },
      pollIntervalMs: 0,
      maxStalenessMs: 1_000,
      ttl: { minMs: 100, maxMs: 100 },
      staleIfErrorMs: 60_000,
      log: false,
    })
    const first = await instance.begin()
    await first.cache.getOrLoad('users:1', () => 'v1')
    first.end()

    // Expired, so the next read loads; stale-if-error may serve v1 while the stream is fresh.
    clock.at += 200
    const fresh = await instance.begin()
    const load = deferred<string>()
    const served = fresh.cache.getOrLoad('users:1', () => load.promise)
    // The stream fails from now on, and the load outlives the bound before it fails.
    failing = true
    clock.at += 1_500
    load.reject(new Error('database down'))
    await expect(served).rejects.toThrow('database down')
    expect(fresh.end()).not.toHaveProperty('staleIfError')

    // Within the bound, the same failure is answered with the expired value.
    failing = false
    clock.at += 10
    const healthy = await instance.begin()
    expect(healthy.poll?.ok).toBe(true)
    const again = deferred<string>()
    const stale = healthy.cache.getOrLoad('users:1', () => again.promise)
    again.reject(new Error('database down'))
    expect(await stale).toBe('v1')
    expect(healthy.end()).toMatchObject({ staleIfError: 1 })
  })

  it('a long invocation polls again before a getOrLoad once the poll interval has passed', async () => {
    const stream = await kinesis.createStream(1)
    const clock = testClock()
    const instance = createScache({
      stream: { name: stream, client: kinesis.client() },
      clock: { now: clock.now },
      pollIntervalMs: 1_000,
      log: false,
    })
    const publisher = createPublisher({ streamName: stream, client: kinesis.client() })
    let value = 'v1'
    const warm = await instance.begin()
    await warm.cache.getOrLoad('users:1', () => value)
    warm.end()

    clock.at += 1_000
    const long = await instance.begin()
    expect(long.poll?.ok).toBe(true)
    expect(await long.cache.getOrLoad('users:1', () => value)).toBe('v1')
    value = 'v2'
    await publisher.invalidate('users:1')
    // Within the interval the entry is served as the bound allows…
    clock.at += 500
    expect(await long.cache.getOrLoad('users:1', () => value)).toBe('v1')
    // …past it, the same invocation reads the stream again, and the change with it.
    clock.at += 600
    expect(await long.cache.getOrLoad('users:1', () => value)).toBe('v2')
    expect(long.end()).toMatchObject({ repolls: 1, evicted: 1 })
  })
})

describe('loads and writes (kinesalite)', () => {
  it('set() revokes the leases of older loads: a write-through is not overwritten', async () => {
    const stream = await kinesis.createStream(1)
    const instance = createScache({
      stream: { name: stream, client: kinesis.client() },
      log: false,
    })
    const invocation = await instance.begin()
    const slow = deferred<string>()
    const loading = invocation.cache.getOrLoad('users:1', () => slow.promise)
    expect(invocation.cache.set('users:1', 'v2')).toBe(true)
    // A caller after the write does not join the older load either.
    expect(await invocation.cache.getOrLoad('users:1', () => 'unused')).toBe('v2')
    slow.resolve('v1')
    expect(await loading).toBe('v1')
    expect(invocation.cache.get('users:1')).toBe('v2')
    invocation.end()
  })

  it('getOrLoadMany leaves a "not found" out of the map, on the call that loads it and after', async () => {
    const stream = await kinesis.createStream(1)
    const instance = createScache({
      stream: { name: stream, client: kinesis.client() },
      log: false,
    })
    const load = (keys: string[]) => new Map(keys.filter((k) => k !== 'users:2').map((k) => [k, k]))
    for (let i = 0; i < 2; i++) {
      const invocation = await instance.begin()
      const found = await invocation.cache.getOrLoadMany(['users:1', 'users:2'], load)
      expect([...found.keys()]).toEqual(['users:1'])
      expect([...invocation.cache.getMany(['users:1', 'users:2']).keys()]).toEqual(['users:1'])
      expect(invocation.end()).toMatchObject(i === 0 ? { loads: 2 } : { loads: 0, hits: 4 })
    }
  })

  it('a bad ttlMs is refused before the loader runs, and is no source failure', async () => {
    const stream = await kinesis.createStream(1)
    const instance = createScache({
      stream: { name: stream, client: kinesis.client() },
      circuitBreaker: { failures: 1 },
      log: false,
    })
    const invocation = await instance.begin()
    let loads = 0
    const loader = () => {
      loads++
      return 'v'
    }
    await expect(invocation.cache.getOrLoad('users:1', loader, { ttlMs: 0 })).rejects.toThrow(
      RangeError,
    )
    await expect(
      invocation.cache.getOrLoadMany(['users:1'], () => [['users:1', 'v']], { ttlMs: 1.5 }),
    ).rejects.toThrow(RangeError)
    expect(loads).toBe(0)
    // The circuit is still closed: the next load runs.
    expect(await invocation.cache.getOrLoad('users:1', loader)).toBe('v')
    expect(loads).toBe(1)
    invocation.end()
  })
})

describe('every wait on user code has a deadline (kinesalite)', () => {
  it('a load that never settles ends with the invocation, and does not wedge its key or circuit', async () => {
    const stream = await kinesis.createStream(1)
    const instance = createScache({
      stream: { name: stream, client: kinesis.client() },
      circuitBreaker: { failures: 1, resetMs: 1 },
      log: false,
    })
    const never = () => new Promise<string>(() => {})
    const context = { getRemainingTimeInMillis: () => 50 }
    const first = await instance.begin(context)
    await expect(first.cache.getOrLoad('users:1', never)).rejects.toThrow(LoadTimeoutError)
    first.end()

    // The circuit opened; after resetMs its probe never settles either, and times out too.
    await new Promise((resolve) => setTimeout(resolve, 5))
    const probe = await instance.begin(context)
    await expect(probe.cache.getOrLoad('users:1', never)).rejects.toThrow(LoadTimeoutError)
    probe.end()

    // Neither left the key joined to a hung load, nor the circuit probing for ever.
    await new Promise((resolve) => setTimeout(resolve, 5))
    const next = await instance.begin(context)
    expect(await next.cache.getOrLoad('users:1', () => 'v1')).toBe('v1')
    next.end()
  })

  it('a warm-up whose keys never come holds the first invocation back for its deadline only', async () => {
    const stream = await kinesis.createStream(1)
    const instance = createScache({
      stream: { name: stream, client: kinesis.client() },
      warm: { keys: () => new Promise<string[]>(() => {}), load: () => new Map() },
      log: false,
    })
    const invocation = await instance.begin({ getRemainingTimeInMillis: () => 100 })
    const line = invocation.end()
    expect(line.warm?.error).toMatch(/^LoadTimeoutError/)
  })
})

describe('the circuit breaker', () => {
  it('keeps no state for healthy keyspaces, and at most MAX_CIRCUITS for failing ones', () => {
    const breaker = new CircuitBreaker({ failures: 3, resetMs: 1_000, scope: 'keyspace' })
    for (let i = 0; i < 5_000; i++) {
      const permit = breaker.admit(`space${i}:1`)
      if (permit === undefined) throw new Error('refused')
      breaker.succeeded(permit)
    }
    expect(breaker.size).toBe(0)
    for (let i = 0; i < 5_000; i++) {
      const permit = breaker.admit(`space${i}:1`)
      if (permit === undefined) throw new Error('refused')
      breaker.failed(permit)
    }
    expect(breaker.size).toBe(MAX_CIRCUITS)
    // A success returns a circuit to the default state, which is not kept.
    for (let i = 4_500; i < 5_000; i++) {
      const permit = breaker.admit(`space${i}:1`)
      if (permit === undefined) throw new Error('refused')
      breaker.succeeded(permit)
    }
    expect(breaker.size).toBe(MAX_CIRCUITS - 500)
    // Failures still count into the circuit they belong to, and open it.
    for (let i = 0; i < 3; i++) {
      const permit = breaker.admit('orders:1')
      if (permit === undefined) throw new Error('refused')
      breaker.failed(permit)
    }
    expect(breaker.admit('orders:2')).toBeUndefined()
  })
})

describe('a lasting misconfiguration is loud (kinesalite)', () => {
  const run = async (stream: string, client: ReturnType<typeof kinesis.client>, polls: number) => {
    const errors: [string, Record<string, unknown>][] = []
    const logger = {
      info: () => {},
      error: (message: string, fields: Record<string, unknown>) => errors.push([message, fields]),
    }
    const clock = testClock()
    const instance = createScache({
      stream: { name: stream, client },
      clock: { now: clock.now },
      pollIntervalMs: 0,
      log: logger,
    })
    for (let i = 0; i < polls; i++) {
      instance.cache.set('users:1', 'Ada') // something cached, so that the poll is not skipped
      const invocation = await instance.begin()
      invocation.end()
      clock.at += 60_000 // past any backoff
    }
    return { errors, stats: instance.stats() }
  }

  it('a stream that does not exist: an ERROR once per container, and a state in stats()', async () => {
    const { errors, stats } = await run('no-such-stream', kinesis.client(), 5)
    expect(stats.streamState).toBe('misconfigured')
    expect(stats.streamProblem).toMatch(/^ResourceNotFoundException/)
    expect(errors).toHaveLength(1)
    expect(errors[0]?.[1]).toMatchObject({ source: 'no-such-stream' })
  })

  it('an outage is told apart: failing, and no ERROR', async () => {
    const stream = await kinesis.createStream(1)
    const client = kinesis.client()
    failCommand(client, 'GetRecords', 'InternalFailure')
    const { errors, stats } = await run(stream, client, 5)
    expect(stats.streamState).toBe('failing')
    expect(errors).toEqual([])
  })
})
