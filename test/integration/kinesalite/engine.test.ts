import { inspect } from 'node:util'
import middy from '@middy/core'
import type { Context } from 'aws-lambda'
import { afterEach, describe, expect, it, vi } from 'vitest'
import {
  CircuitOpenError,
  createPublisher,
  createScache,
  type InvocationLog,
  LoadTimeoutError,
  type PublishError,
  redactKey,
  scache,
  type WithCache,
} from '../../../src/index.js'
import { container, lambdaContext, Source } from '../../support/containers.js'
import { countCommands, failCommand, useKinesis } from '../../support/kinesis.js'

const kinesis = useKinesis()
afterEach(() => {
  vi.restoreAllMocks()
})

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describe('a container with nothing cached (kinesalite)', () => {
  it('skips the poll at no cost, and still applies an invalidation written during its first load', async () => {
    const stream = await kinesis.createStream(2)
    const client = kinesis.client()
    const calls = countCommands(client)
    const source = new Source()
    source.values.set('users:1', 'v1')
    const publisher = createPublisher({ streamName: stream, client: kinesis.client() })
    const reader = createScache({ stream: { name: stream, client }, pollIntervalMs: 0, log: false })

    for (let i = 0; i < 3; i++) {
      const idle = await reader.begin()
      expect(idle.end()).toMatchObject({ pollSkipped: true, streamCalls: 0 })
    }
    expect(calls.size).toBe(0)

    // The load reads v1, then the writer changes the value and publishes before the load stores it.
    const invocation = await reader.begin()
    const value = await invocation.cache.getOrLoad('users:1', async () => {
      const read = await source.read('users:1')
      source.values.set('users:1', 'v2')
      await publisher.invalidate('users:1')
      return read
    })
    expect(value).toBe('v1')
    invocation.end()

    const next = await reader.begin()
    expect(await next.cache.getOrLoad('users:1', () => source.read('users:1'))).toBe('v2')
    expect(next.end()).toMatchObject({ pollSkipped: false, polled: true, evicted: 1, misses: 1 })
  })
})

describe('loads in one container (kinesalite)', () => {
  it('concurrent getOrLoad calls share one load, whose duration is credited on every later hit', async () => {
    const stream = await kinesis.createStream(1)
    const source = new Source(30)
    source.values.set('users:1', 'Ada')
    const instance = createScache({
      stream: { name: stream, client: kinesis.client() },
      log: false,
    })
    const first = await instance.begin()
    const values = await Promise.all(
      Array.from({ length: 10 }, () =>
        first.cache.getOrLoad('users:1', () => source.read('users:1')),
      ),
    )
    expect(values).toEqual(Array(10).fill('Ada'))
    expect(source.loads).toBe(1)
    const loaded = first.end()
    expect(loaded).toMatchObject({ loads: 1, misses: 10 })

    const second = await instance.begin()
    second.cache.get('users:1')
    await second.cache.getOrLoad('users:1', () => source.read('users:1'))
    const line = second.end()
    expect(line.hits).toBe(2)
    expect(line.savedMs).toBeCloseTo(2 * loaded.loadMs, 0)
    expect(line.savedMs).toBeGreaterThanOrEqual(2 * 25)
  })

  it('the fill guard: a value whose key is invalidated mid-load is returned but not stored, and not joined', async () => {
    const stream = await kinesis.createStream(1)
    const source = new Source()
    source.values.set('users:1', 'old')
    const instance = createScache({
      stream: { name: stream, client: kinesis.client() },
      publisher: createPublisher({ streamName: stream, client: kinesis.client() }),
      log: false,
    })
    for (const scope of [
      (k: string) => ({ keys: [k] }),
      () => ({ prefixes: ['users:'] }),
      () => ({ all: true }),
    ]) {
      source.values.set('users:1', 'old')
      instance.reset()
      let release: () => void = () => {}
      const gate = new Promise<void>((resolve) => {
        release = resolve
      })
      const slow = await instance.begin()
      const loading = slow.cache.getOrLoad('users:1', async () => {
        const read = await source.read('users:1')
        await gate
        return read
      })
      // A concurrent request in the same container writes and invalidates while the load runs.
      const writer = await instance.begin()
      source.values.set('users:1', 'new')
      const what = scope('users:1')
      if ('keys' in what) await writer.cache.invalidate(what.keys)
      else if ('prefixes' in what) await writer.cache.invalidatePrefix(what.prefixes)
      else await writer.cache.invalidateAll()
      // A read after the invalidation does not join the overtaken load.
      expect(await writer.cache.getOrLoad('users:1', () => source.read('users:1'))).toBe('new')
      release()
      expect(await loading).toBe('old')
      writer.end()
      slow.end()
      expect(instance.cache.get('users:1')?.value).toBe('new')
    }
  })
})

describe('many keys at once (kinesalite)', () => {
  it('getOrLoadMany loads every missing key in one call, joins loads in flight, guards each key', async () => {
    const stream = await kinesis.createStream(1)
    const source = new Source()
    for (const id of [1, 2, 3, 4, 5]) source.values.set(`users:${id}`, `user ${id}`)
    const instance = createScache({
      stream: { name: stream, client: kinesis.client() },
      pollIntervalMs: 0,
      negativeTtl: { minMs: 60_000, maxMs: 60_000 },
      log: false,
    })
    const batches: string[][] = []
    let release: () => void = () => {}
    const gate = new Promise<void>((resolve) => {
      release = resolve
    })
    const loadMany = async (missing: string[]) => {
      batches.push(missing)
      const rows = Object.fromEntries(missing.map((key) => [key, source.values.get(key)]))
      await gate
      return rows // a plain object; users:9 is absent from it
    }

    const invocation = await instance.begin()
    invocation.cache.setMany([
      ['users:1', 'user 1'],
      ['users:2', 'user 2'],
    ])
    const single = invocation.cache.getOrLoad('users:3', () => source.read('users:3'))
    const many = invocation.cache.getOrLoadMany(
      ['users:1', 'users:2', 'users:3', 'users:4', 'users:5', 'users:9', 'users:4'],
      loadMany,
    )
    // users:5 changes while the batch is out: its loaded value must not be stored.
    await invocation.cache.invalidate('users:5')
    release()
    const loaded = await many
    expect(await single).toBe('user 3')
    expect(batches).toEqual([['users:4', 'users:5', 'users:9']]) // one call, duplicates merged
    // The fill guard, per key: the overtaken users:5 was returned but not stored.
    expect(instance.cache.get('users:5')).toBeUndefined()
    expect(instance.cache.get('users:4')?.value).toBe('user 4')
    expect(Object.fromEntries(loaded)).toEqual({
      'users:1': 'user 1',
      'users:2': 'user 2',
      'users:3': 'user 3',
      'users:4': 'user 4',
      'users:5': 'user 5',
    })
    invocation.end()

    const next = await instance.begin()
    const cached = next.cache.getMany(['users:1', 'users:3', 'users:4', 'users:5', 'users:9'])
    // users:5 was overtaken by its invalidation; users:9 is a cached "not found" (a hit, undefined).
    expect(Object.fromEntries(cached)).toEqual({
      'users:1': 'user 1',
      'users:3': 'user 3',
      'users:4': 'user 4',
      'users:9': undefined,
    })
    expect(next.end()).toMatchObject({ hits: 4, misses: 1 })
  })

  it('a failing batch rejects every key it was loading; nothing is stored', async () => {
    const stream = await kinesis.createStream(1)
    const instance = createScache({
      stream: { name: stream, client: kinesis.client() },
      log: false,
    })
    const invocation = await instance.begin()
    await expect(
      invocation.cache.getOrLoadMany(['users:1', 'users:2'], async () => {
        throw new Error('BatchGetItem failed')
      }),
    ).rejects.toThrow('BatchGetItem failed')
    expect(invocation.cache.getMany(['users:1', 'users:2']).size).toBe(0)
    invocation.end()
  })

  it('setMany takes a Map or a plain object, never its prototype', async () => {
    const stream = await kinesis.createStream(1)
    const instance = createScache({
      stream: { name: stream, client: kinesis.client() },
      log: false,
    })
    const invocation = await instance.begin()
    expect(invocation.cache.setMany(new Map([['a:1', 1]]))).toBe(1)
    const object = Object.create({ 'a:inherited': 'no' }) as Record<string, number>
    object['a:2'] = 2
    expect(invocation.cache.setMany(object)).toBe(1)
    expect([...invocation.cache.getMany(['a:1', 'a:2', 'a:inherited']).keys()]).toEqual([
      'a:1',
      'a:2',
    ])
    invocation.end()
  })
})

describe('warm keys at cold start (kinesalite)', () => {
  it('the first invocation loads the warm keys in one batch, after its poll; later ones hit', async () => {
    const stream = await kinesis.createStream(1)
    const client = kinesis.client()
    const calls = countCommands(client)
    const batches: string[][] = []
    const lines: InvocationLog[] = []
    const instance = createScache({
      stream: { name: stream, client },
      warm: {
        keys: async () => ['config:flags', 'users:1', 'users:2'],
        load: async (keys) => {
          batches.push(keys)
          return new Map<string, unknown>([
            ['config:flags', { beta: true }],
            ['users:1', 'Ada'],
          ])
        },
      },
      log: (line) => lines.push(line),
    })
    const first = await instance.begin()
    expect(first.cache.get('config:flags')).toEqual({ beta: true })
    expect(first.cache.get('users:2')).toBeUndefined() // a cached "not found"
    first.end()
    expect(lines[0]?.warm).toMatchObject({ keys: 3, loaded: 2 })
    expect(lines[0]?.pollSkipped).toBe(true) // the cold cache skipped its poll, then warmed
    expect(calls.size).toBe(0)

    const second = await instance.begin()
    expect(second.cache.get('users:1')).toBe('Ada')
    expect(second.end().warm).toBeUndefined()
    expect(batches).toHaveLength(1)
    expect(await instance.warm()).toMatchObject({ keys: 3, loaded: 2 }) // once per container
  })

  it('warming at module scope (init) is not repeated by the first invocation, which reports it', async () => {
    const stream = await kinesis.createStream(1)
    let loads = 0
    const lines: InvocationLog[] = []
    const instance = createScache({
      stream: { name: stream, client: kinesis.client() },
      warm: { keys: ['users:1'], load: () => ({ 'users:1': `Ada ${++loads}` }) },
      log: (line) => lines.push(line),
    })
    expect(await instance.warm()).toMatchObject({ keys: 1, loaded: 1 })
    const first = await instance.begin()
    expect(first.cache.get('users:1')).toBe('Ada 1')
    first.end()
    expect(loads).toBe(1)
    expect(lines[0]?.warm).toMatchObject({ keys: 1, loaded: 1 })
  })

  it('a failing warm-up is reported and the requests go on cold', async () => {
    const stream = await kinesis.createStream(1)
    const instance = createScache({
      stream: { name: stream, client: kinesis.client() },
      warm: {
        keys: ['users:1'],
        load: async () => {
          throw new Error('table not found')
        },
      },
      log: false,
    })
    const first = await instance.begin()
    expect(await first.cache.getOrLoad('users:1', () => 'Ada')).toBe('Ada')
    expect(first.end().warm).toMatchObject({ loaded: 0, error: 'Error: table not found' })
  })
})

describe('stale-if-error and the circuit breaker (kinesalite)', () => {
  const failing = (): never => {
    throw new Error('database down')
  }

  it('a loader that throws synchronously is not joined by the next caller', async () => {
    const instance = createScache({ stream: { name: 'unused' }, log: false })
    const invocation = await instance.begin()
    await expect(invocation.cache.getOrLoad('users:1', failing)).rejects.toThrow('database down')
    expect(await invocation.cache.getOrLoad('users:1', () => 'Ada')).toBe('Ada')
    invocation.end()
  })

  it('a failed load serves the expired value within staleIfErrorMs, never an invalidated one', async () => {
    const stream = await kinesis.createStream(1)
    // A clock of the test's own: a busy machine must not run the failed loads past staleIfErrorMs.
    let now = Date.now()
    const instance = createScache({
      stream: { name: stream, client: kinesis.client() },
      clock: { now: () => now },
      ttl: { minMs: 50, maxMs: 50 },
      staleIfErrorMs: 300,
      pollIntervalMs: 0,
      log: false,
    })
    const load = async (loader: () => string) => {
      const invocation = await instance.begin()
      try {
        return { value: await invocation.cache.getOrLoad('users:1', loader) }
      } catch (error) {
        return { error: error as Error }
      } finally {
        invocation.end()
      }
    }
    await load(() => 'v1')
    await load(() => 'v1') // one poll, so the container has a position
    now += 60 // expired
    const first = await instance.begin()
    expect(first.cache.get('users:1')).toBeUndefined() // a miss for reads…
    expect(await first.cache.getOrLoad('users:1', failing)).toBe('v1') // …but kept for errors
    expect(first.end()).toMatchObject({ staleIfError: 1 })
    expect(instance.cache.get('users:1')).toBeUndefined() // served, not stored again

    // Invalidated (by another container, read from the stream): never served again.
    await createPublisher({ streamName: stream, client: kinesis.client() }).invalidate('users:1')
    expect((await load(failing)).error?.message).toBe('database down')

    // Past staleIfErrorMs, the error goes through as well.
    await load(() => 'v2')
    now += 50 + 300 + 1
    expect((await load(failing)).error?.message).toBe('database down')
  })

  it('consecutive failures open a keyspace circuit; one probe after resetMs closes it', async () => {
    const stream = await kinesis.createStream(1)
    const lines: InvocationLog[] = []
    // A clock of the test's own: a busy machine must not close the circuit before it is tried.
    let now = Date.now()
    const instance = createScache({
      stream: { name: stream, client: kinesis.client() },
      clock: { now: () => now },
      circuitBreaker: { failures: 2, resetMs: 100 },
      log: (line) => lines.push(line),
    })
    const invocation = await instance.begin()
    const { cache } = invocation
    let calls = 0
    const counted = (loader: () => string) => () => {
      calls++
      return loader()
    }
    for (let i = 0; i < 2; i++)
      await expect(cache.getOrLoad(`users:${i}`, counted(failing))).rejects.toThrow('database down')
    const refused = await cache
      .getOrLoad(
        'users:9',
        counted(() => 'Ada'),
      )
      .catch((e: Error) => e)
    expect(refused).toBeInstanceOf(CircuitOpenError)
    expect(refused).toMatchObject({ circuit: 'users', key: 'users:9' })
    expect((refused as CircuitOpenError).retryInMs).toBe(100)
    expect(calls).toBe(2) // the open circuit did not call the loader
    expect(await cache.getOrLoad('orders:1', () => 'order')).toBe('order') // other keyspaces run

    now += 99
    await expect(cache.getOrLoad('users:3', () => 'Alan')).rejects.toBeInstanceOf(CircuitOpenError)
    now += 1
    let release: (value: string) => void = () => {}
    const probe = cache.getOrLoad(
      'users:1',
      () => new Promise<string>((resolve) => (release = resolve)),
    )
    // While the probe is out, everything else in the circuit is refused.
    await expect(cache.getOrLoad('users:2', () => 'Alan')).rejects.toBeInstanceOf(CircuitOpenError)
    release('Ada')
    expect(await probe).toBe('Ada')
    expect(await cache.getOrLoad('users:2', () => 'Alan')).toBe('Alan') // closed again
    expect(invocation.end()).toMatchObject({ circuitOpen: 3 })
  })

  it('a timeout counts as a failure, and an open circuit falls back to stale-if-error', async () => {
    const stream = await kinesis.createStream(1)
    const instance = createScache({
      stream: { name: stream, client: kinesis.client() },
      ttl: { minMs: 20, maxMs: 20 },
      staleIfErrorMs: 10_000,
      loadTimeoutMs: 20,
      circuitBreaker: { failures: 1, resetMs: 60_000, scope: 'global' },
      log: false,
    })
    const invocation = await instance.begin()
    expect(await invocation.cache.getOrLoad('users:1', () => 'Ada')).toBe('Ada')
    await sleep(30)
    const hung = () => new Promise<string>(() => {})
    // Timed out, then served stale; the circuit is now open for every keyspace (global).
    expect(await invocation.cache.getOrLoad('users:1', hung)).toBe('Ada')
    await expect(invocation.cache.getOrLoad('orders:1', () => 'order')).rejects.toMatchObject({
      name: 'CircuitOpenError',
      circuit: '*',
    })
    expect(await invocation.cache.getOrLoad('users:1', () => 'fresh')).toBe('Ada') // stale, not run
    expect(invocation.end()).toMatchObject({ loadTimeouts: 1, circuitOpen: 2, staleIfError: 2 })
  })
})

describe('stats and diagnostics (kinesalite)', () => {
  it('add up every ended invocation since the cold start, with the stream state now', async () => {
    const stream = await kinesis.createStream(2)
    const client = kinesis.client()
    let down = false
    failCommand(client, 'GetRecords', 'InternalFailure', () => down)
    const source = new Source()
    source.values.set('users:1', 'Ada')
    const c = container(source, stream, client)
    expect(c.instance.stats()).toMatchObject({ invocations: 0, hitRatio: 0, polls: 0 })
    expect(c.instance.stats().lastPollAgeMs).toBeUndefined()

    await c.invoke({ op: 'get', key: 'users:1' }) // miss, poll skipped
    await c.invoke({ op: 'get', key: 'users:1' }) // hit, polled
    await c.invoke({ op: 'get', key: 'users:1' }) // hit, polled
    down = true
    await c.invoke({ op: 'get', key: 'users:1' }) // failed poll: bypassed
    await createPublisher({ streamName: stream, client: kinesis.client() }).invalidateAll()
    down = false
    await sleep((c.lastLog().backoffMs ?? 0) + 5)
    await c.invoke({ op: 'get', key: 'users:1' }) // cleared by invalidate-all: miss

    const stats = c.instance.stats()
    expect(stats).toMatchObject({
      invocations: 5,
      hits: 2,
      misses: 2,
      hitRatio: 0.5,
      bypassed: 1,
      loads: 3,
      polls: 4,
      failedPolls: 1,
      records: 1,
      evicted: 1,
      clears: { 'invalidate-all': 1 },
      entries: 1,
      bypassing: false,
    })
    expect(stats.savedMs).toBeGreaterThanOrEqual(0)
    const invocation = await c.instance.begin() // a handler sees the same through context.cache
    expect(invocation.cache.stats()).toMatchObject({ invocations: 5, hits: 2, polls: 4 })
    invocation.end()
    expect(stats.lastPollAgeMs).toBeGreaterThanOrEqual(0)
    expect(JSON.parse(JSON.stringify(c.instance.diagnostics()))).toMatchObject({
      stream,
      streams: [stream],
      positions: [
        { shardId: 'shardId-000000000000', finished: false },
        { shardId: 'shardId-000000000001', finished: false },
      ],
    })
  })
})

describe('CloudWatch Embedded Metric Format (kinesalite)', () => {
  /** Every metric an EMF line declares must be a number at its top level, or CloudWatch drops it. */
  const expectValidEmf = (
    line: Record<string, unknown>,
    namespace: string,
    dimensions: string[],
  ) => {
    const aws = line._aws as {
      Timestamp: number
      CloudWatchMetrics: {
        Namespace: string
        Dimensions: string[][]
        Metrics: { Name: string; Unit: string }[]
      }[]
    }
    expect(aws.Timestamp).toBeGreaterThan(0)
    const [directive] = aws.CloudWatchMetrics
    expect(directive?.Namespace).toBe(namespace)
    expect(directive?.Dimensions).toEqual([dimensions])
    for (const name of dimensions) expect(typeof line[name]).toBe('string')
    expect(directive?.Metrics.map((metric) => metric.Name)).toEqual(
      expect.arrayContaining(['hits', 'misses', 'streamMs', 'savedMs', 'stalenessMs']),
    )
    for (const { Name, Unit } of directive?.Metrics ?? []) {
      expect(typeof line[Name], Name).toBe('number')
      expect(['Count', 'Milliseconds']).toContain(Unit)
    }
  }

  it('with metrics on, the log line carries its numbers as metrics, under the dimensions given', async () => {
    const stream = await kinesis.createStream(1)
    const written: Record<string, unknown>[] = []
    const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
      written.push(JSON.parse(String(chunk)))
      return true
    })
    const instance = createScache({
      stream: { name: stream, client: kinesis.client() },
      metrics: { namespace: 'UsersApi', dimensions: { service: 'users', stage: 'prod' } },
    })
    const invocation = await instance.begin()
    await invocation.cache.getOrLoad('users:1', () => 'Ada')
    const returned = invocation.end()
    write.mockRestore()
    expect(written).toHaveLength(1)
    const [line] = written as [Record<string, unknown>]
    expectValidEmf(line, 'UsersApi', ['service', 'stage'])
    expect(line).toMatchObject({ message: 'scache', misses: 1, loads: 1, service: 'users' })
    expect(returned).not.toHaveProperty('_aws') // end() returns the plain line
  })

  it('metrics: true names the Lambda function as the dimension', async () => {
    vi.stubEnv('AWS_LAMBDA_FUNCTION_NAME', 'users-get')
    const lines: Record<string, unknown>[] = []
    const instance = createScache({
      stream: { name: 'unused' },
      metrics: true,
      log: (line) => lines.push(line as unknown as Record<string, unknown>),
    })
    vi.unstubAllEnvs()
    ;(await instance.begin()).end()
    expectValidEmf(lines[0] ?? {}, 'scache', ['FunctionName'])
    expect(lines[0]?.FunctionName).toBe('users-get')
  })
})

describe('redactKeys (kinesalite)', () => {
  it('errors name keys by a short stable hash, never in the clear', async () => {
    const stream = await kinesis.createStream(1)
    const client = kinesis.client()
    failCommand(client, 'PutRecords', 'ServiceUnavailable')
    const secretKey = 'users:alice@example.com'
    const instance = createScache({
      stream: { name: stream, client },
      redactKeys: true,
      loadTimeoutMs: 10,
      circuitBreaker: { failures: 1 },
      log: false,
    })
    const invocation = await instance.begin()
    const timeout = await invocation.cache
      .getOrLoad(secretKey, () => new Promise(() => {}))
      .catch((error: Error) => error)
    const refused = await invocation.cache.getOrLoad(secretKey, () => 'x').catch((e: Error) => e)
    const unpublished = await invocation.cache.invalidate(secretKey).catch((e: Error) => e)
    invocation.end()
    const hash = redactKey(secretKey)
    expect(hash).toMatch(/^#[A-Za-z0-9_-]{12}$/)
    for (const error of [timeout, refused, unpublished]) {
      expect(error).toBeInstanceOf(Error)
      const shown = `${(error as Error).message} ${JSON.stringify(error)} ${inspect(error)}`
      expect(shown).not.toContain('alice')
      expect(shown).toContain(hash)
    }
    expect((unpublished as PublishError).failedKeys).toEqual([secretKey]) // kept for retries
  }, 15_000)
})

describe('negative caching (kinesalite)', () => {
  it('a "not found" is cached for the short negativeTtl, and an invalidation still evicts it', async () => {
    const stream = await kinesis.createStream(1)
    const source = new Source()
    // A clock of the test's own: a busy machine must not expire the entry before the poll does.
    let now = Date.now()
    const instance = createScache({
      stream: { name: stream, client: kinesis.client() },
      clock: { now: () => now },
      pollIntervalMs: 0,
      negativeTtl: { minMs: 100, maxMs: 100 },
      log: false,
    })
    const read = async () => {
      const invocation = await instance.begin()
      const value = await invocation.cache.getOrLoad('users:1', () => source.read('users:1'))
      return { value, line: invocation.end() }
    }
    expect((await read()).value).toBeUndefined()
    expect(await read()).toMatchObject({ value: undefined, line: { hits: 1, loads: 0 } })
    expect(source.loads).toBe(1)

    // Created elsewhere; its invalidation evicts the cached "not found" at the next poll.
    source.values.set('users:1', 'Ada')
    await createPublisher({ streamName: stream, client: kinesis.client() }).invalidate('users:1')
    expect(await read()).toMatchObject({ value: 'Ada', line: { evicted: 1 } })

    // Without an invalidation, a "not found" lasts negativeTtl, not ttl.
    source.values.delete('users:1')
    instance.cache.set('users:1', undefined)
    source.values.set('users:1', 'Grace')
    expect((await read()).value).toBeUndefined()
    now += 110
    expect((await read()).value).toBe('Grace')
  })
})

describe('loader timeouts (kinesalite)', () => {
  it('a load slower than its timeout rejects, is neither stored nor joined, and is counted', async () => {
    const stream = await kinesis.createStream(1)
    const source = new Source()
    source.values.set('users:1', 'Ada')
    const lines: InvocationLog[] = []
    const instance = createScache({
      stream: { name: stream, client: kinesis.client() },
      loadTimeoutMs: 50,
      log: (line) => lines.push(line),
    })
    let release: (value: string) => void = () => {}
    const hung = new Promise<string>((resolve) => {
      release = resolve
    })

    const first = await instance.begin()
    const slow = first.cache.getOrLoad('users:1', () => hung)
    const joined = first.cache.getOrLoad('users:1', () => source.read('users:1'))
    await expect(slow).rejects.toMatchObject({
      name: 'LoadTimeoutError',
      key: 'users:1',
      timeoutMs: 50,
    })
    await expect(joined).rejects.toBeInstanceOf(LoadTimeoutError) // it shared the load
    // A caller after the timeout starts a load of its own.
    expect(await first.cache.getOrLoad('users:1', () => source.read('users:1'))).toBe('Ada')
    expect(first.end()).toMatchObject({ loadTimeouts: 1, loads: 1 })

    // The hung load finally answers: too late, its value is not stored over the fresh one.
    release('stale')
    await sleep(10)
    expect(instance.cache.get('users:1')?.value).toBe('Ada')

    // A per-call timeout overrides the option.
    const second = await instance.begin()
    const patient = second.cache.getOrLoad(
      'users:2',
      () => new Promise<string>((resolve) => setTimeout(() => resolve('Grace'), 100)),
      { timeoutMs: 1_000 },
    )
    expect(await patient).toBe('Grace')
    second.end()
    expect(lines.at(-1)?.loadTimeouts).toBeUndefined()
  })

  it('rejects a timeout that is not a whole number of ms up to 15 minutes', async () => {
    const instance = createScache({ stream: { name: 'unused' }, log: false })
    const invocation = await instance.begin()
    for (const timeoutMs of [0, -1, 1.5, 900_001, Number.NaN]) {
      await expect(
        invocation.cache.getOrLoad('users:1', () => 'Ada', { timeoutMs }),
      ).rejects.toThrow(/timeoutMs/)
    }
    invocation.end()
  })
})

describe('stream errors (kinesalite with injected faults)', () => {
  const setup = async (options: {
    onStreamError: 'bypass' | 'serve-stale'
    maxStalenessMs: number
    clock?: { now: () => number }
  }) => {
    const stream = await kinesis.createStream(1)
    const client = kinesis.client()
    let down = false
    failCommand(client, 'GetRecords', 'InternalFailure', () => down)
    const source = new Source()
    source.values.set('users:1', 'v1')
    const c = container(source, stream, client, { pollIntervalMs: 0, ...options })
    await c.invoke({ op: 'get', key: 'users:1' })
    await c.invoke({ op: 'get', key: 'users:1' })
    expect(c.lastLog()).toMatchObject({ hits: 1 })
    const publisher = createPublisher({ streamName: stream, client: kinesis.client() })
    return { c, source, publisher, setDown: (value: boolean) => (down = value) }
  }

  it("'bypass': reads go to the source from the first failed poll, and the outage's invalidations apply on recovery", async () => {
    const { c, source, publisher, setDown } = await setup({
      onStreamError: 'bypass',
      maxStalenessMs: 10_000,
    })
    setDown(true)
    source.values.set('users:1', 'v2')
    await publisher.invalidate('users:1')
    expect(await c.invoke({ op: 'get', key: 'users:1' })).toBe('v2')
    expect(c.lastLog()).toMatchObject({
      bypassed: 1,
      hits: 0,
      streamError: 'InternalFailure: injected InternalFailure',
    })
    setDown(false)
    // A failed poll backs off before the next; reads stay bypassed until one succeeds.
    const { backoffMs } = c.lastLog()
    expect(backoffMs).toBeGreaterThan(0)
    await sleep((backoffMs ?? 0) + 5) // Date.now() counts whole ms
    expect(await c.invoke({ op: 'get', key: 'users:1' })).toBe('v2')
    expect(c.lastLog()).toMatchObject({ evicted: 1, misses: 1, bypassed: 0 })
    expect(c.lastLog().streamError).toBeUndefined()
  })

  it("'serve-stale': reads are served from cache until maxStalenessMs, then bypassed", async () => {
    // A clock of the test's own: a busy machine must not take the first failed poll past the bound.
    let now = Date.now()
    const { c, setDown } = await setup({
      onStreamError: 'serve-stale',
      maxStalenessMs: 200,
      clock: { now: () => now },
    })
    setDown(true)
    await c.invoke({ op: 'get', key: 'users:1' })
    expect(c.lastLog()).toMatchObject({ hits: 1, bypassed: 0 })
    expect(c.lastLog().streamError).toBeDefined()
    now += 199
    await c.invoke({ op: 'get', key: 'users:1' })
    expect(c.lastLog()).toMatchObject({ hits: 1, bypassed: 0 })
    now += 3
    await c.invoke({ op: 'get', key: 'users:1' })
    expect(c.lastLog()).toMatchObject({ hits: 0, bypassed: 1 })
    expect(c.lastLog().stalenessMs).toBe(202)
    // Two polls failed (one of the last two requests was held back): past the second backoff's
    // ceiling, the next poll succeeds and the cache serves again.
    setDown(false)
    now += 400
    await c.invoke({ op: 'get', key: 'users:1' })
    expect(c.lastLog()).toMatchObject({ polled: true, hits: 1, bypassed: 0 })
  })
})

describe('the per-invocation log line (kinesalite)', () => {
  it('is one JSON line on stdout after the handler, and after a handler error', async () => {
    const stream = await kinesis.createStream(1)
    const lines: string[] = []
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      lines.push(String(chunk))
      return true
    })
    const handler = middy(async (event: { fail: boolean }, context: Context & WithCache) => {
      await context.cache.getOrLoad('users:1', () => 'Ada')
      if (event.fail) throw new Error('handler failed')
      return context.cache.get('users:1')
    }).use(scache({ stream: { name: stream, client: kinesis.client() } }))

    expect(await handler({ fail: false }, lambdaContext() as Context & WithCache)).toBe('Ada')
    await expect(handler({ fail: true }, lambdaContext() as Context & WithCache)).rejects.toThrow(
      'handler failed',
    )
    vi.restoreAllMocks()

    expect(lines).toHaveLength(2)
    expect(lines.every((line) => line.endsWith('\n') && !line.slice(0, -1).includes('\n'))).toBe(
      true,
    )
    const [ok, failed] = lines.map((line) => JSON.parse(line) as InvocationLog)
    expect(ok).toMatchObject({ message: 'scache', misses: 1, hits: 1, loads: 1, pollSkipped: true })
    expect(ok?.requestId).toMatch(/^request-/)
    expect(ok?.handlerError).toBeUndefined()
    expect(failed).toMatchObject({ hits: 1, handlerError: true, polled: true, shardsPolled: 1 })
    for (const field of [
      'streamMs',
      'savedMs',
      'netMs',
      'stalenessMs',
      'evicted',
      'records',
      'bytes',
    ]) {
      expect(typeof (failed as unknown as Record<string, unknown>)[field]).toBe('number')
    }
    expect(failed?.netMs).toBeCloseTo((failed?.savedMs ?? 0) - (failed?.streamMs ?? 0), 1)
  })
})

describe('an injected clock (kinesalite)', () => {
  it('drives TTLs, the poll schedule and staleness, so a simulation can run in virtual time', async () => {
    const stream = await kinesis.createStream(1)
    const publisher = createPublisher({ streamName: stream, client: kinesis.client() })
    let now = Date.now()
    const reader = createScache({
      stream: { name: stream, client: kinesis.client() },
      ttl: { minMs: 1_000, maxMs: 5_000 },
      pollIntervalMs: 1_000,
      // random() = 0: the shortest TTL (1,000 ms) and the shortest poll interval (800 ms).
      clock: { now: () => now, random: () => 0 },
      log: false,
    })

    let invocation = await reader.begin()
    invocation.cache.set('users:1', 'v1')
    invocation.end()
    // With something cached, the first poll is due at once.
    invocation = await reader.begin()
    expect(invocation.end()).toMatchObject({ polled: true })
    await publisher.invalidate('users:1')

    // Real time passes, virtual time does not: no poll is due yet, so the stale value is served.
    await sleep(50)
    invocation = await reader.begin()
    expect(invocation.cache.get('users:1')).toBe('v1')
    expect(invocation.end()).toMatchObject({ polled: false, stalenessMs: 0 })

    now += 799
    invocation = await reader.begin()
    expect(invocation.end()).toMatchObject({ polled: false, stalenessMs: 799 })

    now += 1
    invocation = await reader.begin()
    expect(invocation.cache.get('users:1')).toBeUndefined()
    invocation.cache.set('users:2', 'v2')
    expect(invocation.end()).toMatchObject({ polled: true, evicted: 1 })

    // The TTL runs on the same clock: 1,000 ms after the set, users:2 is still there; 1 ms later not.
    now += 1_000
    invocation = await reader.begin()
    expect(invocation.cache.get('users:2')).toBe('v2')
    expect(invocation.end()).toMatchObject({ polled: true })
    now += 1
    invocation = await reader.begin()
    expect(invocation.cache.get('users:2')).toBeUndefined()
    invocation.end()
    expect(reader.diagnostics()).toMatchObject({ lastPollAgeMs: 1, stalenessMs: 1 })
  })
})

describe('evict: here only (kinesalite)', () => {
  it('evicts this container’s entries and guards its loads, publishing nothing', async () => {
    const stream = await kinesis.createStream(1)
    const client = kinesis.client()
    const calls = countCommands(client)
    const instance = createScache({ stream: { name: stream, client }, log: false })
    const invocation = await instance.begin()
    invocation.cache.setMany({ 'users:1': 'Ada', 'users:2': 'Grace' })
    expect(invocation.cache.evict(['users:1', 'users:3'])).toBe(1)
    expect(invocation.cache.get('users:1')).toBeUndefined()
    expect(invocation.cache.get('users:2')).toBe('Grace')

    // A write during a load: the load's value is returned, but not stored.
    const value = await invocation.cache.getOrLoad('users:1', async () => {
      invocation.cache.evict('users:1')
      return 'Ada (old)'
    })
    expect(value).toBe('Ada (old)')
    expect(invocation.cache.get('users:1')).toBeUndefined()
    expect(() => invocation.cache.evict('')).toThrow(/key/)
    expect(invocation.end()).toMatchObject({ evicted: 1 })
    // No Kinesis call at all: nothing published (and nothing was cached when the poll was due).
    expect([...calls.keys()]).toEqual([])
  })
})
