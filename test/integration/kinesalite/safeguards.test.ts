import type { GetRecordsCommandOutput, KinesisClient } from '@aws-sdk/client-kinesis'
import { describe, expect, it } from 'vitest'
import { createPublisher, createScache, StreamReader } from '../../../src/index.js'
import {
  countCommands,
  failCommand,
  newReader,
  readInvalidations,
  useKinesis,
} from '../../support/kinesis.js'

const kinesis = useKinesis()

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Fault injection: GetRecords answers as real Kinesis does far behind the tip (empty pages). */
const farBehind = (client: KinesisClient, enabled: () => boolean): void => {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const result = await next(args)
      if (context.commandName === 'GetRecordsCommand' && enabled()) {
        const output = result.output as GetRecordsCommandOutput
        return { ...result, output: { ...output, Records: [], MillisBehindLatest: 3_600_000 } }
      }
      return result
    },
    { step: 'initialize', name: 'scacheTestFarBehind' },
  )
}

describe('stream safeguards (kinesalite)', () => {
  it('a failed relisting after a split is retried by the next poll: no invalidation is lost', async () => {
    const stream = await kinesis.createStream(1)
    const client = kinesis.client()
    let listFails = false
    failCommand(client, 'ListShards', 'LimitExceededException', () => listFails)
    const { poll, applied } = newReader(stream, client)
    await poll()

    await kinesis.split(stream)
    const publisher = createPublisher({ streamName: stream, client: kinesis.client() })
    const keys = Array.from({ length: 10 }, (_, i) => `users:${i}`)
    for (const key of keys) await publisher.invalidate(key)

    listFails = true
    // The parent ends on the first read; listing its children fails.
    const failed = await poll()
    expect(failed.ok).toBe(false)
    expect(failed.errors.map((e) => e.name)).toContain('LimitExceededException')
    listFails = false
    const recovered = await poll()
    expect(recovered.ok).toBe(true)
    expect(applied.flatMap((i) => i.keys).sort()).toEqual(keys.sort())
  })

  it('children of a shard positioned by a skip start at its timestamp, not at the trim horizon', async () => {
    const stream = await kinesis.createStream(1)
    const client = kinesis.client()
    const { reader, applied, poll } = newReader(stream, client, { clockSkewMs: 0 })
    await poll()
    await kinesis.split(stream)
    // kinesalite stamps a child's records no earlier than the child's creation, which it rounds
    // up to the next second; real Kinesis stamps real arrival times.
    await sleep(1_100)
    const publisher = createPublisher({ streamName: stream, client: kinesis.client() })
    await publisher.invalidate(['old:1', 'old:2', 'old:3'])
    await sleep(20)
    reader.skipToNow(0) // the cache emptied: nothing written before now matters
    await sleep(20)
    await publisher.invalidate(['new:1'])

    for (let i = 0; i < 2; i++) await poll()
    expect(applied.flatMap((inv) => inv.keys)).toEqual(['new:1'])
  })

  it('a shard far behind (MillisBehindLatest) clears the cache and starts again at now', async () => {
    const stream = await kinesis.createStream(2)
    const client = kinesis.client()
    let behind = false
    farBehind(client, () => behind)
    const lines: { cleared?: string; entries: number; evicted: number }[] = []
    const instance = createScache({
      stream: { name: stream, client },
      pollIntervalMs: 0,
      maxPagesPerShard: 3,
      log: (line) => lines.push(line),
    })
    const calls = countCommands(client)
    instance.cache.set('users:1', 'Ada')
    instance.cache.set('users:2', 'Alan')
    ;(await instance.begin()).end()

    behind = true
    calls.clear()
    const invocation = await instance.begin()
    expect(invocation.poll?.restarted).toBe('behind')
    expect(invocation.cache.bypassed).toBe(false) // the cache is empty, so it is exact again
    invocation.end()
    expect(lines.at(-1)).toMatchObject({ cleared: 'behind', entries: 0, evicted: 2 })
    // An hour behind is past the 10 s staleness bound: one page per shard, not the 3 allowed.
    expect(calls.get('GetRecords')).toBe(2)

    behind = false
    instance.cache.set('users:1', 'Grace')
    const next = await instance.begin()
    expect(next.poll?.ok).toBe(true)
    expect(next.cache.get('users:1')).toBe('Grace')
    next.end()
  })

  it('prefix invalidations are applied once per poll, and many prefixes evict only what they match', async () => {
    const stream = await kinesis.createStream(1)
    const lines: { cleared?: string; evicted: number; records: number }[] = []
    const instance = createScache({
      stream: { name: stream, client: kinesis.client() },
      pollIntervalMs: 0,
      log: (line) => lines.push(line),
    })
    for (let i = 0; i < 2_000; i++) instance.cache.set(`k${i % 10}:${i}`, i)
    ;(await instance.begin()).end()
    const publisher = createPublisher({ streamName: stream, client: kinesis.client() })

    await publisher.invalidatePrefix(['k1:', 'k2:'])
    await publisher.invalidatePrefix('k3:')
    ;(await instance.begin()).end()
    expect(lines.at(-1)).toMatchObject({ records: 2, evicted: 600 })
    expect(lines.at(-1)?.cleared).toBeUndefined()

    // 800 prefixes cost 800 lookups in the key index, not 800 walks of the cache: nothing that
    // does not match is evicted, and the cache is not cleared.
    await publisher.invalidatePrefix([
      ...Array.from({ length: 800 }, (_, i) => `none${i}:`),
      'k4:1',
    ])
    ;(await instance.begin()).end()
    expect(lines.at(-1)).toMatchObject({ records: 1, evicted: 111 })
    expect(lines.at(-1)?.cleared).toBeUndefined()
    expect(instance.cache.size).toBe(1_400 - 111)
  })

  it('expired entries do not cost a poll: a container whose entries all expired skips it', async () => {
    const stream = await kinesis.createStream(1)
    const client = kinesis.client()
    const calls = countCommands(client)
    const instance = createScache({
      stream: { name: stream, client },
      pollIntervalMs: 0,
      log: false,
    })
    instance.cache.set('users:1', 'Ada', { ttlMs: 1 })
    await sleep(5)
    const invocation = await instance.begin()
    expect(invocation.end()).toMatchObject({ pollSkipped: true, streamCalls: 0 })
    expect(calls.size).toBe(0)
  })

  it('an entry kept for stale-if-error still costs a poll; once it is past that too, the poll is skipped', async () => {
    const stream = await kinesis.createStream(1)
    const client = kinesis.client()
    const calls = countCommands(client)
    let clock = Date.now()
    const instance = createScache({
      stream: { name: stream, client },
      pollIntervalMs: 0,
      staleIfErrorMs: 1_000,
      clock: { now: () => clock },
      log: false,
    })
    instance.cache.set('users:1', 'Ada', { ttlMs: 10 })
    instance.cache.set('users:2', 'Alan', { ttlMs: 5_000 })
    clock += 2_000
    // users:1 is past every use; users:2 is live: the poll runs.
    expect((await instance.begin()).end()).toMatchObject({ pollSkipped: false, polled: true })
    clock += 3_500
    // users:2 is expired but may still answer a failed load: an invalidation must reach it.
    expect((await instance.begin()).end()).toMatchObject({ pollSkipped: false, polled: true })
    expect(instance.cache.getStale('users:2')?.value).toBe('Alan')
    clock += 1_000
    const before = calls.get('GetRecords') ?? 0
    expect((await instance.begin()).end()).toMatchObject({ pollSkipped: true, entries: 0 })
    expect(calls.get('GetRecords') ?? 0).toBe(before)
  })

  it('staleness is checked on every read: a long invocation stops using the cache at maxStalenessMs', async () => {
    const stream = await kinesis.createStream(1)
    // Virtual time: a busy machine must not stretch 150 ms into a poll interval (getOrLoad would
    // then poll again, rightly, and find the cache fresh).
    let now = Date.now()
    const instance = createScache({
      stream: { name: stream, client: kinesis.client() },
      clock: { now: () => now },
      pollIntervalMs: 0,
      maxStalenessMs: 100,
      log: false,
    })
    instance.cache.set('users:1', 'Ada')
    const invocation = await instance.begin()
    expect(invocation.cache.get('users:1')).toBe('Ada')
    now += 150
    expect(invocation.cache.bypassed).toBe(true)
    expect(invocation.cache.get('users:1')).toBeUndefined()
    expect(await invocation.cache.getOrLoad('users:2', () => 'Alan')).toBe('Alan')
    expect(instance.cache.has('users:2')).toBe(false)
    expect(invocation.end()).toMatchObject({ hits: 1, bypassed: 2 })
  })

  it('an iterator stays fresh as long as GetRecords renews it: no GetShardIterator in steady state', async () => {
    const stream = await kinesis.createStream(1)
    const client = kinesis.client()
    const calls = countCommands(client)
    let clock = Date.now()
    const reader = new StreamReader({
      stream,
      client,
      clockSkewMs: 5_000,
      maxPagesPerShard: 5,
      now: () => clock,
    })
    for (let minute = 0; minute < 12; minute += 4) {
      clock += 4 * 60_000 // each poll within 5 minutes of the last
      expect((await reader.poll({ apply: () => {} })).ok).toBe(true)
    }
    expect(calls.get('GetShardIterator')).toBe(1)
    expect(calls.get('GetRecords')).toBe(3)
  })

  it('invalidate publishes through the stream client when no publisher is given', async () => {
    const stream = await kinesis.createStream(1)
    const since = Date.now() - 1_000
    const instance = createScache({
      stream: { name: stream, client: kinesis.client({ maxAttempts: 3 }) },
      log: false,
    })
    const invocation = await instance.begin()
    await invocation.cache.invalidate(['users:1', 'users:2'])
    invocation.end()
    expect((await readInvalidations(kinesis, stream, since)).keys).toEqual(['users:1', 'users:2'])
  })
})
