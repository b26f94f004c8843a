import { afterEach, describe, expect, it, vi } from 'vitest'
import { drawTtl, estimateBytes, keyspaceOf, RECENCY_MS } from '../../../src/cache/index.js'
import { InvalidKeyError } from '../../../src/errors.js'
import type { Invalidation } from '../../../src/record/index.js'
import { invalidation, newCache } from '../../support/cache.js'
import { seededRandom } from '../../support/prng.js'

/** A hand-moved wall clock. Starts far from 0: lru-cache treats a start time of 0 as "no TTL". */
const manualClock = (start = 1_700_000_000_000) => {
  let now = start
  return {
    now: () => now,
    /** Moves the clock to `ms` after its start. */
    at: (ms: number) => {
      now = start + ms
    },
  }
}

afterEach(() => {
  vi.useRealTimers()
})

describe('keyspaceOf', () => {
  it('is the part before the first colon, undefined without one', () => {
    expect(keyspaceOf('users:1')).toBe('users')
    expect(keyspaceOf('users:1:profile')).toBe('users')
    expect(keyspaceOf('plain')).toBeUndefined()
  })
})

describe('drawTtl', () => {
  it('spans [minMs, maxMs] inclusive and stays integral', () => {
    const range = { minMs: 1000, maxMs: 2000 }
    expect(drawTtl(range, () => 0)).toBe(range.minMs)
    expect(drawTtl(range, () => 1 - Number.EPSILON)).toBe(range.maxMs)
    const random = seededRandom(7)
    for (let i = 0; i < 1000; i++) {
      const ttl = drawTtl(range, random)
      expect(Number.isInteger(ttl)).toBe(true)
      expect(ttl).toBeGreaterThanOrEqual(range.minMs)
      expect(ttl).toBeLessThanOrEqual(range.maxMs)
    }
  })
})

describe('TTL', () => {
  it('spreads expiries uniformly over [minMs, maxMs] with the real Math.random', () => {
    const clock = manualClock()
    const ttl = { minMs: 1000, maxMs: 2000 }
    const count = 2000
    const cache = newCache({ ttl, maxEntries: count, now: clock.now })
    const keys = Array.from({ length: count }, (_, i) => `k${i}`)
    for (const key of keys) expect(cache.set(key, key)).toBe(true)

    // lru-cache: an entry is stale once now - start > ttl, so it is still alive at exactly its TTL.
    clock.at(ttl.minMs - 1)
    expect(keys.filter((key) => cache.has(key))).toHaveLength(count)
    clock.at(ttl.minMs)
    expect(keys.filter((key) => cache.has(key))).toHaveLength(count)

    const bucketMs = 100
    const buckets: number[] = []
    let alive = keys
    for (let end = ttl.minMs + bucketMs; end <= ttl.maxMs; end += bucketMs) {
      clock.at(end)
      const stillAlive = alive.filter((key) => cache.get(key) !== undefined)
      buckets.push(alive.length - stillAlive.length)
      alive = stillAlive
    }
    expect(buckets).toHaveLength((ttl.maxMs - ttl.minMs) / bucketMs)
    for (const expired of buckets) {
      expect(expired).toBeGreaterThanOrEqual(count * 0.05)
      expect(expired).toBeLessThanOrEqual(count * 0.15)
    }

    clock.at(ttl.maxMs + 1)
    expect(keys.filter((key) => cache.get(key) !== undefined)).toEqual([])
  })

  it('a fixed TTL (minMs == maxMs): alive at max - 1 and at max, gone at max + 1', () => {
    const clock = manualClock()
    const ttlMs = 5000
    const cache = newCache({ ttl: { minMs: ttlMs, maxMs: ttlMs }, now: clock.now })
    const keys = Array.from({ length: 50 }, (_, i) => `fixed:${i}`)
    for (const key of keys) cache.set(key, key)

    clock.at(ttlMs - 1)
    expect(keys.every((key) => cache.get(key)?.value === key)).toBe(true)
    clock.at(ttlMs)
    expect(keys.every((key) => cache.get(key)?.value === key)).toBe(true)
    clock.at(ttlMs + 1)
    expect(keys.some((key) => cache.has(key))).toBe(false)
    expect(keys.some((key) => cache.get(key) !== undefined)).toBe(false)
  })

  it('uses the injected random for the draw', () => {
    const clock = manualClock()
    const ttl = { minMs: 1000, maxMs: 2000 }
    const low = newCache({ ttl, now: clock.now, random: () => 0 })
    const high = newCache({ ttl, now: clock.now, random: () => 1 - Number.EPSILON })
    low.set('k', 1)
    high.set('k', 1)
    clock.at(ttl.minMs)
    expect(low.has('k')).toBe(true)
    clock.at(ttl.minMs + 1)
    expect(low.has('k')).toBe(false)
    expect(high.has('k')).toBe(true)
    clock.at(ttl.maxMs)
    expect(high.has('k')).toBe(true)
    clock.at(ttl.maxMs + 1)
    expect(high.has('k')).toBe(false)
  })

  it('options.ttlMs overrides the keyspace range', () => {
    const clock = manualClock()
    const cache = newCache({ ttl: { minMs: 60_000, maxMs: 60_000 }, now: clock.now })
    cache.set('short', 1, { ttlMs: 50 })
    cache.set('long', 1)
    clock.at(50)
    expect(cache.has('short')).toBe(true)
    clock.at(51)
    expect(cache.has('short')).toBe(false)
    expect(cache.has('long')).toBe(true)
  })

  it('"not found" (undefined or null) takes the negativeTtl range, per keyspace', () => {
    const clock = manualClock()
    const cache = newCache({
      ttl: { minMs: 60_000, maxMs: 60_000 },
      negativeTtl: { minMs: 1_000, maxMs: 1_000 },
      keyspaces: { orders: { negativeTtl: { minMs: 5_000, maxMs: 5_000 } } },
      now: clock.now,
    })
    cache.set('users:1', undefined)
    cache.set('users:2', null)
    cache.set('users:3', 0) // falsy, but found
    cache.set('users:4', undefined, { ttlMs: 10_000 }) // an explicit TTL wins
    cache.set('orders:1', undefined)
    clock.at(1_001)
    expect(cache.has('users:1')).toBe(false)
    expect(cache.has('users:2')).toBe(false)
    expect(cache.has('users:3')).toBe(true)
    expect(cache.has('users:4')).toBe(true)
    expect(cache.has('orders:1')).toBe(true)
    clock.at(5_001)
    expect(cache.has('orders:1')).toBe(false)
  })

  it('without negativeTtl, "not found" lives as long as any value', () => {
    const clock = manualClock()
    const cache = newCache({ ttl: { minMs: 60_000, maxMs: 60_000 }, now: clock.now })
    cache.set('users:1', undefined)
    clock.at(60_000)
    expect(cache.get('users:1')).toMatchObject({
      value: undefined,
      costMs: 0,
      expiresAt: 1_700_000_060_000,
    })
  })

  it('staleIfErrorMs keeps an expired entry for getStale only, and an invalidation removes it', () => {
    const clock = manualClock()
    const cache = newCache({
      ttl: { minMs: 1_000, maxMs: 1_000 },
      staleIfErrorMs: 500,
      now: clock.now,
    })
    cache.set('users:1', 'Ada', { costMs: 7 })
    cache.set('users:2', 'Alan')
    clock.at(1_001)
    expect(cache.get('users:1')).toBeUndefined()
    expect(cache.has('users:1')).toBe(false)
    expect(cache.getStale('users:1')).toMatchObject({
      value: 'Ada',
      costMs: 7,
      expiresAt: 1_700_000_001_000,
      tags: undefined,
    })
    expect(cache.size).toBe(2) // kept, so the container keeps polling for it
    cache.invalidate(invalidation({ keys: ['users:2'] }))
    expect(cache.getStale('users:2')).toBeUndefined()
    clock.at(1_501)
    expect(cache.getStale('users:1')).toBeUndefined()
  })

  it('get returns the stored value, its cost and its expiry', () => {
    const clock = manualClock()
    const cache = newCache({ ttl: { minMs: 5_000, maxMs: 5_000 }, now: clock.now })
    const value = { name: 'Ada' }
    cache.set('users:1', value, { costMs: 12 })
    expect(cache.get('users:1')).toMatchObject({
      value,
      costMs: 12,
      expiresAt: 1_700_000_005_000,
      tags: undefined,
    })
    expect(cache.get<{ name: string }>('users:1')?.value).toBe(value)
    cache.set('users:2', 'x')
    expect(cache.get('users:2')?.costMs).toBe(0)
    expect(cache.get('users:3')).toBeUndefined()
  })
})

describe('expiry without timers', () => {
  it('expires on read when only the injected clock moves, and schedules no timer', () => {
    vi.useFakeTimers()
    const clock = manualClock()
    const cache = newCache({ ttl: { minMs: 1000, maxMs: 1000 }, now: clock.now })
    for (let i = 0; i < 100; i++) cache.set(`k${i}`, i)
    expect(vi.getTimerCount()).toBe(0)
    expect(cache.get('k0')?.value).toBe(0)
    expect(vi.getTimerCount()).toBe(0)

    clock.at(1001)
    expect(vi.getTimerCount()).toBe(0)
    // Nothing ran in between: the entries are still held, and only a read finds them expired.
    expect(cache.size).toBe(100)
    expect(cache.get('k0')).toBeUndefined()
    expect(cache.has('k1')).toBe(false)
    expect(cache.get('k1')).toBeUndefined()
    expect(cache.size).toBe(98)
  })

  it('by default reads the wall clock (Date.now) on every read', () => {
    vi.useFakeTimers()
    vi.setSystemTime(new Date('2025-01-01T00:00:00Z'))
    const cache = newCache({ ttl: { minMs: 1000, maxMs: 1000 } })
    cache.set('k', 1)
    expect(vi.getTimerCount()).toBe(0)
    vi.setSystemTime(Date.now() + 1000)
    expect(cache.has('k')).toBe(true)
    vi.setSystemTime(Date.now() + 1)
    expect(cache.has('k')).toBe(false)
    expect(vi.getTimerCount()).toBe(0)
  })
})

describe('dropIfAllExpired', () => {
  it('empties the cache only once its latest entry is past its TTL and stale-if-error time', () => {
    const clock = manualClock()
    const cache = newCache({
      ttl: { minMs: 1000, maxMs: 1000 },
      staleIfErrorMs: 500,
      now: clock.now,
    })
    cache.set('a', 1)
    clock.at(400)
    cache.set('b', 2, { ttlMs: 2000 })
    clock.at(200)
    cache.set('c', 3, { ttlMs: 100 })
    // 'a' and 'c' are past every time they could be read, 'b' is not: nothing is dropped.
    clock.at(2000)
    expect(cache.dropIfAllExpired()).toBe(false)
    expect(cache.size).toBe(3)
    // 'b' is expired but still kept for getStale until 400 + 2000 + 500.
    clock.at(2900)
    expect(cache.get('b')).toBeUndefined()
    expect(cache.getStale('b')?.value).toBe(2)
    expect(cache.dropIfAllExpired()).toBe(false)
    clock.at(2901)
    expect(cache.dropIfAllExpired()).toBe(true)
    expect(cache.size).toBe(0)
  })

  it('starts afresh after a clear: a cleared cache forgets its late entries', () => {
    const clock = manualClock()
    const cache = newCache({ ttl: { minMs: 1000, maxMs: 1000 }, now: clock.now })
    cache.set('late', 1, { ttlMs: 100_000 })
    cache.clear()
    cache.set('early', 2)
    clock.at(1001)
    expect(cache.dropIfAllExpired()).toBe(true)
    expect(cache.size).toBe(0)
  })
})

describe('bounds', () => {
  it('keeps bytes <= maxBytes while 10x maxBytes is written, keeping the newest entries', () => {
    const maxBytes = 20_000
    const cache = newCache({ maxBytes, maxEntries: 100_000 })
    const random = seededRandom(42)
    const keys: string[] = []
    let written = 0
    while (written < 10 * maxBytes) {
      const key = `k${keys.length}`
      const value = 'v'.repeat(50 + Math.floor(random() * 500))
      expect(cache.set(key, value)).toBe(true)
      expect(cache.bytes).toBeLessThanOrEqual(maxBytes)
      keys.push(key)
      written += estimateBytes(value)
    }
    const kept = keys.filter((key) => cache.has(key))
    expect(kept.length).toBe(cache.size)
    expect(kept.length).toBeGreaterThan(1)
    expect(kept.length).toBeLessThan(keys.length)
    // LRU: what is kept is exactly the most recently set suffix.
    expect(kept).toEqual(keys.slice(keys.length - kept.length))
    // It evicts only what it must: the store stays well filled.
    expect(cache.bytes).toBeGreaterThan(maxBytes / 2)
  })

  /** A full cache of 5 entries, k0 (the least recent) to k4, set at the clock's start. */
  const fullOfFive = () => {
    const clock = manualClock()
    const cache = newCache({ maxEntries: 5, now: clock.now })
    for (let i = 0; i < 5; i++) cache.set(`k${i}`, `k${i}`)
    return { clock, cache }
  }

  it('a read makes an entry recently used, once per recency period', () => {
    const { clock, cache } = fullOfFive()
    clock.at(RECENCY_MS)
    expect(cache.get('k0')?.value).toBe('k0')
    cache.set('new', 'new')
    expect(cache.has('k0')).toBe(true)
    expect(cache.has('k1')).toBe(false)
    expect(cache.size).toBe(5)
  })

  it('a read in the recency period an entry last moved in leaves its place', () => {
    const { clock, cache } = fullOfFive()
    clock.at(RECENCY_MS / 2)
    // Set in this period: already at the recent end when set, so the read does not move it.
    expect(cache.get('k0')?.value).toBe('k0')
    cache.set('new', 'new')
    expect(cache.has('k0')).toBe(false)
    expect(cache.has('k1')).toBe(true)
  })

  it('does not store a value larger than maxBytes, and set returns false', () => {
    const maxBytes = 10_000
    const cache = newCache({ maxBytes })
    expect(cache.set('small', 'x')).toBe(true)
    const before = cache.bytes
    const big = 'x'.repeat(maxBytes)
    expect(estimateBytes(big)).toBeGreaterThan(maxBytes)
    expect(cache.set('big', big)).toBe(false)
    expect(cache.has('big')).toBe(false)
    expect(cache.bytes).toBe(before)
    expect(cache.has('small')).toBe(true)
  })

  it('an oversized replacement does not leave the old value behind', () => {
    const maxBytes = 10_000
    const cache = newCache({ maxBytes })
    expect(cache.set('k', 'old')).toBe(true)
    expect(cache.set('k', 'x'.repeat(maxBytes))).toBe(false)
    expect(cache.get('k')?.value).not.toBe('old')
  })

  it('a replacement that cannot be sized does not leave the old value behind', () => {
    class Row {
      readonly id = 1
    }
    const cache = newCache()
    expect(cache.set('k', 'old')).toBe(true)
    expect(cache.set('k', new Row())).toBe(false)
    expect(cache.get('k')).toBeUndefined()
    expect(cache.size).toBe(0)
    for (const sizeOf of [
      () => Number.NaN,
      () => -1,
      (): number => {
        throw new Error('cannot size')
      },
    ]) {
      const sized = newCache({ sizeOf: (value) => (value === 'old' ? 8 : sizeOf()) })
      expect(sized.set('k', 'old', { tags: ['t'] })).toBe(true)
      expect(sized.set('k', 'new')).toBe(false)
      expect(sized.get('k')).toBeUndefined()
      expect(sized.indexed).toEqual({ entries: 0, keys: 0, taggings: 0 })
    }
  })

  it('keeps at most maxEntries, the most recently set', () => {
    const maxEntries = 10
    const cache = newCache({ maxEntries })
    const keys = Array.from({ length: 10 * maxEntries }, (_, i) => `k${i}`)
    for (const key of keys) {
      expect(cache.set(key, key)).toBe(true)
      expect(cache.size).toBeLessThanOrEqual(maxEntries)
    }
    expect(keys.filter((key) => cache.has(key))).toEqual(keys.slice(-maxEntries))
  })

  it("charges each entry its wrapper, its slot in the key map and its key's header", () => {
    const cache = newCache({ maxBytes: 1_000_000 })
    cache.set('k', null)
    // The entry (48 bytes and a heap number of 16 for its expiry), a key-map slot of 28 to 56,
    // and the key: a 16-byte header and its character, in whole words.
    expect(cache.bytes).toBeGreaterThanOrEqual(48 + 16 + 28 + 24)
    // A fractional load cost is a heap number of its own.
    cache.set('k', null, { costMs: 1.5 })
    expect(cache.bytes).toBeGreaterThanOrEqual(48 + 2 * 16 + 28 + 24)
  })

  it('uses the injected sizeOf', () => {
    const sizeOf = vi.fn((value: unknown) => (value as { bytes: number }).bytes)
    const cache = newCache({ maxBytes: 1000, sizeOf })
    expect(cache.set('a', { bytes: 10 })).toBe(true)
    const small = cache.bytes
    expect(sizeOf).toHaveBeenCalledWith({ bytes: 10 }, 'a')
    expect(cache.set('b', { bytes: 110 })).toBe(true)
    expect(cache.bytes - small).toBeGreaterThanOrEqual(110)
    expect(cache.set('c', { bytes: 1000 })).toBe(false)
  })
})

describe('keyspaces', () => {
  it('a keyed entry uses its keyspace TTL range; keys without ":" and unknown keyspaces use the default', () => {
    const clock = manualClock()
    const cache = newCache({
      ttl: { minMs: 1000, maxMs: 1000 },
      keyspaces: { users: { ttl: { minMs: 5000, maxMs: 5000 } } },
      now: clock.now,
    })
    cache.set('users:1', 'u')
    cache.set('orders:1', 'o')
    cache.set('plain', 'p')
    clock.at(1001)
    expect(cache.has('users:1')).toBe(true)
    expect(cache.has('orders:1')).toBe(false)
    expect(cache.has('plain')).toBe(false)
    clock.at(5000)
    expect(cache.has('users:1')).toBe(true)
    clock.at(5001)
    expect(cache.has('users:1')).toBe(false)
  })

  it('only the part before the first ":" names the keyspace', () => {
    const clock = manualClock()
    const cache = newCache({
      ttl: { minMs: 1000, maxMs: 1000 },
      keyspaces: { users: { ttl: { minMs: 5000, maxMs: 5000 } } },
      now: clock.now,
    })
    cache.set('users:1:profile', 'u')
    cache.set('x:users:1', 'x')
    clock.at(1001)
    expect(cache.has('users:1:profile')).toBe(true)
    expect(cache.has('x:users:1')).toBe(false)
  })

  it('a keyspace with only a TTL shares the default store', () => {
    const maxEntries = 5
    const cache = newCache({
      maxEntries,
      keyspaces: { users: { ttl: { minMs: 5000, maxMs: 5000 } } },
    })
    cache.set('plain', 1)
    for (let i = 0; i < maxEntries; i++) cache.set(`users:${i}`, i)
    expect(cache.has('plain')).toBe(false)
    expect(cache.size).toBe(maxEntries)
  })

  it('a keyspace with its own maxEntries has its own store', () => {
    const maxEntries = 5
    const cache = newCache({ maxEntries, keyspaces: { sessions: { maxEntries: 3 } } })
    const plain = Array.from({ length: maxEntries }, (_, i) => `p${i}`)
    const sessions = Array.from({ length: 20 }, (_, i) => `sessions:${i}`)
    for (const key of plain) cache.set(key, key)
    for (const key of sessions) cache.set(key, key)
    // Filling the keyspace store evicted nothing from the default store...
    expect(plain.every((key) => cache.has(key))).toBe(true)
    // ...and the keyspace store holds its own bound.
    expect(sessions.filter((key) => cache.has(key))).toEqual(sessions.slice(-3))
    expect(cache.size).toBe(maxEntries + 3)

    // Vice versa: filling the default store evicts no session.
    const more = Array.from({ length: 20 }, (_, i) => `more${i}`)
    for (const key of more) cache.set(key, key)
    expect(sessions.filter((key) => cache.has(key))).toEqual(sessions.slice(-3))
    expect(more.filter((key) => cache.has(key))).toEqual(more.slice(-maxEntries))
  })

  it('a keyspace with its own maxBytes has its own byte budget', () => {
    const cache = newCache({ maxBytes: 1_000_000, keyspaces: { blobs: { maxBytes: 5_000 } } })
    cache.set('plain', 'x'.repeat(6_000))
    expect(cache.set('blobs:1', 'x'.repeat(6_000))).toBe(false)
    expect(cache.has('plain')).toBe(true)
    expect(cache.set('blobs:2', 'x'.repeat(2_000))).toBe(true)
    expect(cache.has('blobs:2')).toBe(true)
  })
})

describe('invalidate', () => {
  it('by keys: evicts them and returns how many were held', () => {
    const cache = newCache({ keyspaces: { sessions: { maxEntries: 10 } } })
    for (const key of ['a', 'b', 'c', 'sessions:1']) cache.set(key, key)
    expect(cache.invalidate(invalidation({ keys: ['a', 'sessions:1', 'missing', 'a'] }))).toBe(2)
    expect(cache.has('a')).toBe(false)
    expect(cache.has('sessions:1')).toBe(false)
    expect(cache.has('b')).toBe(true)
    expect(cache.has('c')).toBe(true)
    expect(cache.invalidate(invalidation({ keys: ['a'] }))).toBe(0)
  })

  it('by prefix: any string prefix, across keyspace stores', () => {
    const cache = newCache({ keyspaces: { users: { maxEntries: 10 } } })
    const matching = ['users:1', 'users:2', 'user', 'us']
    const others = ['orders:1', 'u', 'plain', 'xus']
    for (const key of [...matching, ...others]) cache.set(key, key)
    expect(cache.invalidate(invalidation({ prefixes: ['us'] }))).toBe(matching.length)
    expect(matching.filter((key) => cache.has(key))).toEqual([])
    expect(others.filter((key) => cache.has(key))).toEqual(others)
  })

  it('by several prefixes and keys at once, counting each entry once', () => {
    const cache = newCache()
    for (const key of ['a:1', 'a:2', 'b:1', 'c:1']) cache.set(key, key)
    expect(cache.invalidate(invalidation({ keys: ['a:1'], prefixes: ['a:', 'a', 'b:'] }))).toBe(3)
    expect(cache.has('c:1')).toBe(true)
    expect(cache.size).toBe(1)
  })

  it('all: evicts every store and returns the count', () => {
    const cache = newCache({ keyspaces: { sessions: { maxEntries: 10 } } })
    const keys = ['a', 'b', 'sessions:1', 'sessions:2', 'users:1']
    for (const key of keys) cache.set(key, key)
    expect(cache.invalidate(invalidation({ all: true }))).toBe(keys.length)
    expect(keys.some((key) => cache.has(key))).toBe(false)
    expect(cache.size).toBe(0)
    expect(cache.bytes).toBe(0)
  })

  // The `evicted` count of the log line counts what was live, however the entries are evicted.
  it('invalidate-all counts only live entries, not already expired ones', () => {
    const clock = manualClock()
    const cache = newCache({ ttl: { minMs: 100, maxMs: 100 }, now: clock.now })
    cache.set('expired:1', 1)
    cache.set('expired:2', 2)
    clock.at(101)
    cache.set('live', 3)
    expect(cache.has('expired:1')).toBe(false)
    // 'expired:2' is expired but untouched: held, not live.
    expect(cache.invalidate(invalidation({ all: true }))).toBe(1)
  })

  it('invalidating by key or by prefix counts only live entries', () => {
    const clock = manualClock()
    const cache = newCache({ ttl: { minMs: 100, maxMs: 100 }, now: clock.now })
    cache.set('a:1', 1)
    cache.set('b:1', 1)
    clock.at(101)
    cache.set('a:2', 2)
    cache.set('b:2', 2)
    expect(cache.invalidate(invalidation({ keys: ['a:1', 'a:2'] }))).toBe(1)
    expect(cache.invalidate(invalidation({ prefixes: ['b:'] }))).toBe(1)
    expect(cache.size).toBe(0)
  })

  it('refuses a TTL of 0 (lru-cache would keep the value forever) and a negative cost', () => {
    const cache = newCache()
    expect(() => cache.set('a', 1, { ttlMs: 0 })).toThrow(RangeError)
    expect(() => cache.set('a', 1, { ttlMs: 1.5 })).toThrow(/ttlMs/)
    expect(() => cache.set('a', 1, { costMs: -1 })).toThrow(/costMs/)
    expect(() => cache.set('a', 1, { costMs: Number.NaN })).toThrow(/costMs/)
    expect(cache.has('a')).toBe(false)
  })

  it('delete removes one key', () => {
    const cache = newCache()
    cache.set('a', 1)
    expect(cache.delete('a')).toBe(true)
    expect(cache.delete('a')).toBe(false)
    expect(cache.has('a')).toBe(false)
  })
})

describe('keys', () => {
  it('set throws on an empty key and on a key longer than 1024 characters', () => {
    const cache = newCache()
    expect(() => cache.set('', 1)).toThrow(InvalidKeyError)
    expect(() => cache.set('x'.repeat(1025), 1)).toThrow(InvalidKeyError)
    expect(cache.size).toBe(0)
    expect(cache.set('x'.repeat(1024), 1)).toBe(true)
    expect(cache.has('x'.repeat(1024))).toBe(true)
  })
})

describe('fill guard', () => {
  const cases: [string, Invalidation][] = [
    ['the key', invalidation({ keys: ['users:1'] })],
    ['a keyspace prefix of the key', invalidation({ prefixes: ['users:'] })],
    ['any string prefix of the key', invalidation({ prefixes: ['us'] })],
    ['the whole key as a prefix', invalidation({ prefixes: ['users:1'] })],
    ['everything', invalidation({ all: true })],
  ]
  for (const [what, overtaking] of cases) {
    it(`an invalidation of ${what} during a load makes set return false and not store`, () => {
      const cache = newCache()
      const lease = cache.acquireLease('users:1')
      expect(lease.valid).toBe(true)
      cache.invalidate(overtaking)
      expect(lease.valid).toBe(false)
      expect(cache.set('users:1', 'stale', {}, lease)).toBe(false)
      expect(cache.has('users:1')).toBe(false)
      cache.releaseLease(lease)
    })
  }

  const unrelated: [string, Invalidation][] = [
    ['another key', invalidation({ keys: ['users:10', 'users'] })],
    ['another prefix', invalidation({ prefixes: ['orders:', 'users:2', 'users:10'] })],
  ]
  for (const [what, other] of unrelated) {
    it(`an invalidation of ${what} leaves the lease valid and the value is stored`, () => {
      const cache = newCache()
      const lease = cache.acquireLease('users:1')
      cache.invalidate(other)
      expect(lease.valid).toBe(true)
      expect(cache.set('users:1', 'fresh', {}, lease)).toBe(true)
      expect(cache.get('users:1')?.value).toBe('fresh')
      cache.releaseLease(lease)
    })
  }

  it('a revoked load does not overwrite a value stored after the invalidation', () => {
    const cache = newCache()
    const lease = cache.acquireLease('k')
    cache.invalidate(invalidation({ keys: ['k'] }))
    cache.set('k', 'new')
    expect(cache.set('k', 'old', {}, lease)).toBe(false)
    expect(cache.get('k')?.value).toBe('new')
  })

  it('only loads in flight at the invalidation are revoked', () => {
    const cache = newCache()
    cache.invalidate(invalidation({ keys: ['k'] }))
    const lease = cache.acquireLease('k')
    expect(cache.set('k', 'v', {}, lease)).toBe(true)
    expect(cache.has('k')).toBe(true)
  })

  it('loading counts leases until they are released', () => {
    const cache = newCache()
    expect(cache.loading).toBe(0)
    const a = cache.acquireLease('a')
    const b = cache.acquireLease('b')
    const a2 = cache.acquireLease('a')
    expect(cache.loading).toBe(3)
    cache.invalidate(invalidation({ all: true }))
    expect(cache.loading).toBe(3)
    cache.releaseLease(a)
    expect(cache.loading).toBe(2)
    cache.releaseLease(a)
    expect(cache.loading).toBe(2)
    cache.releaseLease(b)
    cache.releaseLease(a2)
    expect(cache.loading).toBe(0)
  })
})

describe('estimateBytes', () => {
  it('grows with string length, at a byte a character for Latin-1, two beyond', () => {
    const sizes = [0, 10, 100, 1000].map((length) => estimateBytes('x'.repeat(length)))
    for (let i = 1; i < sizes.length; i++) expect(sizes[i]).toBeGreaterThan(sizes[i - 1]!)
    expect(estimateBytes('x'.repeat(1008)) - estimateBytes('x'.repeat(504))).toBe(504)
    expect(estimateBytes('\u00e9'.repeat(1008)) - estimateBytes('\u00e9'.repeat(504))).toBe(504)
    expect(estimateBytes('\u20ac'.repeat(1008)) - estimateBytes('\u20ac'.repeat(504))).toBe(1008)
    // One character beyond Latin-1 makes the whole string two-byte.
    expect(estimateBytes(`${'x'.repeat(999)}\u20ac`)).toBe(estimateBytes('\u20ac'.repeat(1000)))
    expect(estimateBytes({ s: 'x'.repeat(1000) })).toBeGreaterThan(estimateBytes({ s: 'x' }))
  })

  it('a 1 MB string estimates to at least 1 MB, 2 MB when two-byte', () => {
    const length = 1024 * 1024
    expect(estimateBytes('x'.repeat(length))).toBeGreaterThanOrEqual(length)
    expect(estimateBytes('\u20ac'.repeat(length))).toBeGreaterThanOrEqual(2 * length)
  })

  it('terminates on cycles', () => {
    const a: Record<string, unknown> = { name: 'a' }
    const b: Record<string, unknown> = { name: 'b', a }
    a.b = b
    a.self = a
    const list: unknown[] = []
    list.push(list, a)
    const map = new Map<unknown, unknown>()
    map.set(map, map)
    const set = new Set<unknown>()
    set.add(set)
    for (const value of [a, list, map, set]) {
      const bytes = estimateBytes(value)
      expect(Number.isFinite(bytes)).toBe(true)
      expect(bytes).toBeGreaterThan(0)
    }
  })

  it('counts a shared reference once', () => {
    const shared = { text: 'x'.repeat(10_000) }
    // The hidden class of `{ text }` is counted the first time it is seen: see it first.
    estimateBytes({ text: '' })
    const twice = estimateBytes([shared, shared])
    const copies = estimateBytes([shared, { text: 'x'.repeat(10_000) }])
    expect(twice).toBeLessThan(copies)
    expect(copies - twice).toBeGreaterThanOrEqual(10_000)
  })

  it('counts the byteLength of typed arrays and buffers', () => {
    expect(estimateBytes(new Uint8Array(5000)) - estimateBytes(new Uint8Array(0))).toBe(5000)
    expect(estimateBytes(new Float64Array(1000)) - estimateBytes(new Float64Array(0))).toBe(8000)
    expect(estimateBytes(new ArrayBuffer(4096)) - estimateBytes(new ArrayBuffer(0))).toBe(4096)
    // A view counts its own bytes, not the whole buffer behind it.
    const view = new Uint8Array(new ArrayBuffer(1_000_000), 10, 100)
    expect(estimateBytes(view)).toBe(estimateBytes(new Uint8Array(100)))
    expect(estimateBytes(Buffer.alloc(3000)) - estimateBytes(Buffer.alloc(0))).toBe(3000)
  })

  it('handles deep nesting without recursion', () => {
    let deep: unknown = 'leaf'
    for (let i = 0; i < 100_000; i++) deep = { next: deep }
    const bytes = estimateBytes(deep)
    expect(Number.isFinite(bytes)).toBe(true)
    expect(bytes).toBeGreaterThan(estimateBytes({ next: 'leaf' }))
  })

  // The bounds below are V8's 64-bit layouts (what Node ships); an estimate under them would let
  // the cache hold more than maxBytes.
  const words = (bytes: number) => Math.ceil(bytes / 8) * 8
  const pow2ceil = (n: number) => 2 ** Math.ceil(Math.log2(n))

  it('rounds two-byte strings to whole words, header included', () => {
    for (let length = 1; length <= 40; length++) {
      // A character of its own per length: a short string already seen is not counted again.
      const bytes = estimateBytes(String.fromCharCode(0x4e00 + length).repeat(length))
      expect(bytes).toBeGreaterThanOrEqual(words(16 + 2 * length))
      expect(bytes % 8).toBe(0)
    }
  })

  it('counts a heap number for every number that is not a small integer', () => {
    for (const number of [0.5, -0, 2 ** 31, -(2 ** 31) - 1, 1e300, Number.NaN, Infinity])
      expect(estimateBytes(number), String(number)).toBeGreaterThanOrEqual(16)
    expect(estimateBytes({ a: 1.5 })).toBeGreaterThan(estimateBytes({ a: 1 }))
  })

  it('counts a bigint by its 64-bit digits', () => {
    expect(estimateBytes(1n)).toBeGreaterThanOrEqual(24)
    expect(estimateBytes(2n ** 64n)).toBeGreaterThanOrEqual(32)
    expect(estimateBytes(-(2n ** 64n))).toBe(estimateBytes(2n ** 64n))
    expect(estimateBytes(2n ** 1024n)).toBeGreaterThanOrEqual(16 + 8 * 17)
  })

  it("counts an array's slots with some of the spare capacity push leaves", () => {
    for (let length = 0; length <= 500; length++) {
      const array = Array.from({ length }, (_, i) => ({ i }))
      // The array (32 bytes), its backing store's header (16), its slots and 1/8 + 16 spare
      // (push leaves up to 1/2 + 16), besides the elements.
      const slots = 32 + 16 + 8 * (length + Math.floor(length / 8) + 16)
      expect(estimateBytes(array)).toBeGreaterThanOrEqual(slots + 24 * length)
    }
    // Numbers only: kept unboxed in the slots, whether small integers or not.
    const doubles = Array.from({ length: 100 }, (_, i) => i + 0.5)
    expect(estimateBytes(doubles)).toBe(32 + 16 + 8 * (100 + 12 + 16))
  })

  it('sizes an object as if its properties were in a hash table (dictionary mode)', () => {
    for (let count = 0; count <= 300; count++) {
      // Built property by property, and a null prototype: both are dictionary-mode objects.
      const object: Record<string, boolean> = Object.create(null)
      for (let i = 0; i < count; i++) object[String.fromCharCode(0x61 + (i % 26)) + i] = true
      // The object (24), the table's header (64), 24-byte slots: a power of two at least the
      // properties and half as many again (rounded down, as V8 does: 11 fit in 16), and at least 4.
      const table = 24 * Math.max(4, pow2ceil(count + Math.floor(count / 2)))
      expect(estimateBytes(object), `${count} properties`).toBeGreaterThanOrEqual(88 + table)
    }
  })

  it("counts the hash tables of Map and Set, and a Date's cached fields", () => {
    for (let size = 0; size <= 100; size++) {
      const keys = Array.from({ length: size }, (_, i) => i)
      // 72 bytes of header; slots of 28 (Map) and 20 (Set) bytes, a power of two at least the
      // size; a Set built from an iterable may start at 8.
      const slots = pow2ceil(Math.max(1, size))
      expect(estimateBytes(new Map(keys.map((k) => [k, k])))).toBeGreaterThanOrEqual(
        72 + 28 * Math.max(4, slots),
      )
      expect(estimateBytes(new Set(keys))).toBeGreaterThanOrEqual(72 + 20 * Math.max(8, slots))
    }
    expect(estimateBytes(new Date())).toBeGreaterThanOrEqual(112)
  })

  it('counts the heap objects of a view and of an ArrayBuffer besides their bytes', () => {
    // Measured (bench/memory-retained.ts): a Buffer of 100 bytes holds about 286.
    expect(estimateBytes(new Uint8Array(16))).toBeGreaterThanOrEqual(176 + 16)
    expect(estimateBytes(Buffer.alloc(100))).toBeGreaterThanOrEqual(276)
    expect(estimateBytes(new ArrayBuffer(16))).toBeGreaterThanOrEqual(112)
  })

  it('counts Map and Set contents', () => {
    const text = 'x'.repeat(1000)
    expect(estimateBytes(new Map([['k', text]]))).toBeGreaterThan(1000)
    expect(estimateBytes(new Set([text]))).toBeGreaterThan(1000)
    expect(estimateBytes(new Map([[text, 1]]))).toBeGreaterThan(1000)
    // Short strings in a Map or Set are counted every time: JSON.parse makes neither, so they
    // were built in code, each a copy.
    const shorts = (n: number) => new Map(Array.from({ length: n }, (_, i) => [`k${i}`, `v${i}`]))
    expect(estimateBytes(shorts(20)) - estimateBytes(shorts(20))).toBe(0)
    expect(estimateBytes(shorts(32)) - estimateBytes(shorts(16))).toBeGreaterThanOrEqual(
      16 * 28 + 16 * 2 * 24,
    )
  })
})
