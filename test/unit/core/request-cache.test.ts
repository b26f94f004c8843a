import type { KinesisClient } from '@aws-sdk/client-kinesis'
import { describe, expect, it } from 'vitest'
import { RECENCY_MS } from '../../../src/cache/index.js'
import { createScache, type ScacheOptions } from '../../../src/index.js'
import { createTestClock, MemoryKinesis } from '../../../src/testing/index.js'

/**
 * `context.cache.get`, the hit path: every read checks the staleness bound and the entry's TTL
 * against the clock, and a poll held back by the backoff bypasses (or not) as `onStreamError`
 * says. A clock moved by hand; polls answered by MemoryKinesis, failed on demand (a throttle).
 */
const setUp = (options: ScacheOptions = {}) => {
  const clock = createTestClock(1_700_000_000_000)
  const kinesis = new MemoryKinesis({ now: clock.now })
  const stream = kinesis.createStream('invalidations')
  let throttled = false
  const client = {
    send: (command: object) => {
      if (throttled && command.constructor.name === 'GetRecordsCommand') {
        const error = new Error('Rate exceeded for shard')
        error.name = 'ProvisionedThroughputExceededException'
        return Promise.reject(error)
      }
      return kinesis.client.send(command as never)
    },
  } as unknown as KinesisClient
  const scache = createScache({
    stream: { name: stream, client },
    // No jitter: the poll interval is 800 ms, each backoff delay half its ceiling.
    clock: { now: clock.now, random: () => 0 },
    log: false,
    pollIntervalMs: 1_000,
    maxStalenessMs: 10_000,
    ttl: { minMs: 60_000, maxMs: 60_000 },
    ...options,
  })
  return {
    clock,
    scache,
    throttle: (on: boolean) => {
      throttled = on
    },
  }
}

describe('context.cache.get', () => {
  it('serves a hit up to the staleness bound and bypasses past it, within one invocation', async () => {
    const { clock, scache } = setUp()
    const invocation = await scache.begin()
    invocation.cache.set('users:1', 'Ada')
    expect(invocation.cache.get('users:1')).toBe('Ada')
    clock.advance(10_000)
    expect(invocation.cache.get('users:1')).toBe('Ada')
    clock.advance(1)
    expect(invocation.cache.get('users:1')).toBeUndefined()
    expect(invocation.end()).toMatchObject({ hits: 2, bypassed: 1, misses: 0 })
  })

  it('a hit in a later recency period moves its entry to the recent end; one in the same does not', async () => {
    const { clock, scache } = setUp({ maxEntries: 3, maxStalenessMs: 3_600_000 })
    const invocation = await scache.begin()
    for (const key of ['a', 'b', 'c']) invocation.cache.set(key, key)
    // Set in this period: 'a' keeps its place, the least recent, and is evicted first.
    expect(invocation.cache.get('a')).toBe('a')
    invocation.cache.set('d', 'd')
    expect(invocation.cache.get('a')).toBeUndefined()
    clock.advance(RECENCY_MS)
    expect(invocation.cache.get('b')).toBe('b')
    invocation.cache.set('e', 'e')
    expect(invocation.cache.get('c')).toBeUndefined()
    expect(invocation.cache.get('b')).toBe('b')
    expect(invocation.end()).toMatchObject({ hits: 3, misses: 2 })
  })

  it('bypasses once the clock steps back before the last sync, until a poll succeeds', async () => {
    const { clock, scache } = setUp()
    const invocation = await scache.begin()
    invocation.cache.set('users:1', 'Ada')
    clock.advance(-1)
    expect(invocation.cache.get('users:1')).toBeUndefined()
    // Back where it was, the clock still cannot say how old the cache is.
    clock.advance(1)
    expect(invocation.cache.get('users:1')).toBeUndefined()
    expect(invocation.end()).toMatchObject({ hits: 0, bypassed: 2 })
    const next = await scache.begin()
    expect(next.cache.get('users:1')).toBe('Ada')
    expect(next.end()).toMatchObject({ hits: 1, bypassed: 0 })
  })

  it('does not serve an entry past its TTL, whatever the bound', async () => {
    const { clock, scache } = setUp({ ttl: { minMs: 1_000, maxMs: 1_000 } })
    const invocation = await scache.begin()
    invocation.cache.set('users:1', 'Ada')
    clock.advance(1_000)
    expect(invocation.cache.get('users:1')).toBe('Ada')
    clock.advance(1)
    expect(invocation.cache.get('users:1')).toBeUndefined()
    expect(invocation.end()).toMatchObject({ hits: 1, misses: 1, bypassed: 0 })
  })

  /**
   * Two throttled polls, then one that succeeds but leaves a backoff of 1 s: 900 ms later a poll
   * is owed (the interval is 800 ms) but held back, so that invocation's reads are deferred.
   */
  const deferredInvocation = async (options: ScacheOptions) => {
    const { clock, scache, throttle } = setUp(options)
    const first = await scache.begin()
    first.cache.set('users:1', 'Ada')
    first.end()
    throttle(true)
    for (const waitMs of [1_000, 1_000]) {
      clock.advance(waitMs)
      const failed = await scache.begin()
      expect(failed.end()).toMatchObject({ polled: true, streamError: expect.any(String) })
    }
    throttle(false)
    clock.advance(2_000)
    const recovered = await scache.begin()
    expect(recovered.end()).toMatchObject({ polled: true, backoffMs: 1_000 })
    clock.advance(900)
    return scache.begin()
  }

  it("bypasses every read of an invocation whose poll was held back, with onStreamError 'bypass'", async () => {
    const held = await deferredInvocation({ onStreamError: 'bypass' })
    expect(held.cache.get('users:1')).toBeUndefined()
    expect(held.cache.get('users:1')).toBeUndefined()
    expect(held.end()).toMatchObject({ pollDeferred: true, hits: 0, bypassed: 2 })
  })

  it('a write-through that a bypass keeps out drops the value it supersedes', async () => {
    const { clock, scache, throttle } = setUp()
    const first = await scache.begin()
    first.cache.set('users:1', 'Ada')
    first.cache.set('users:2', 'Alan')
    first.end()
    // Past the staleness bound with the poll failing: every read and write is a bypass.
    throttle(true)
    clock.advance(10_001)
    const held = await scache.begin()
    expect(held.cache.bypassed).toBe(true)
    expect(held.cache.set('users:1', 'Grace')).toBe(false)
    expect(held.cache.setMany([['users:2', 'Edsger']])).toBe(0)
    held.end()
    // Trusted again by a poll that found nothing (the writes' records are not on the stream yet).
    throttle(false)
    clock.advance(30_000)
    const next = await scache.begin()
    expect(next.cache.bypassed).toBe(false)
    expect(next.cache.get('users:1')).toBeUndefined()
    expect(next.cache.get('users:2')).toBeUndefined()
    next.end()
  })

  it("serves the reads of an invocation whose poll was held back, with onStreamError 'serve-stale'", async () => {
    const held = await deferredInvocation({ onStreamError: 'serve-stale' })
    expect(held.cache.get('users:1')).toBe('Ada')
    expect(held.end()).toMatchObject({ pollDeferred: true, hits: 1, bypassed: 0 })
  })

  it('reads the store of a keyspace that has its own, counting its hits and misses', async () => {
    const { clock, scache } = setUp({
      keyspaces: { orders: { maxEntries: 10, ttl: { minMs: 1_000, maxMs: 1_000 } } },
    })
    const invocation = await scache.begin()
    invocation.cache.set('users:1', 'Ada')
    invocation.cache.set('orders:1', 'book')
    expect(invocation.cache.get('orders:1')).toBe('book')
    expect(invocation.cache.get('users:1')).toBe('Ada')
    expect(invocation.cache.get('orders:2')).toBeUndefined()
    clock.advance(1_001)
    expect(invocation.cache.get('orders:1')).toBeUndefined()
    expect(invocation.cache.get('users:1')).toBe('Ada')
    expect(invocation.end()).toMatchObject({ hits: 3, misses: 2, bypassed: 0 })
  })

  it('keeps an expired entry it read for stale-if-error, and drops it once past that too', async () => {
    const { clock, scache } = setUp({ ttl: { minMs: 1_000, maxMs: 1_000 }, staleIfErrorMs: 500 })
    const invocation = await scache.begin()
    invocation.cache.set('users:1', 'Ada', { costMs: 7 })
    expect(invocation.cache.get('users:1')).toBe('Ada')
    clock.advance(1_001)
    expect(invocation.cache.get('users:1')).toBeUndefined()
    expect(scache.cache.getStale('users:1')?.value).toBe('Ada')
    clock.advance(500)
    expect(invocation.cache.get('users:1')).toBeUndefined()
    expect(scache.cache.size).toBe(0)
    expect(invocation.end()).toMatchObject({ hits: 1, misses: 2, savedMs: 7 })
  })
})
