import { describe, expect, it } from 'vitest'
import { entriesOf } from '../../../src/cache/index.js'
import { invalidation, newCache } from '../../support/cache.js'
import { seededRandom } from '../../support/prng.js'

describe("the cache's map of entries against its stores (random operations)", () => {
  it('holds exactly the entry each store holds, whatever removed or replaced it', () => {
    const random = seededRandom(5)
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T
    let now = 1_700_000_000_000
    const cache = newCache({
      ttl: { minMs: 500, maxMs: 3_000 },
      staleIfErrorMs: 2_000,
      maxEntries: 20,
      maxBytes: 20_000,
      // `own` has a store of its own, `shared` only a TTL of its own: it lives in the default one.
      keyspaces: {
        own: { maxEntries: 6, maxBytes: 4_000 },
        shared: { ttl: { minMs: 100, maxMs: 200 } },
      },
      sizeOf: (value) => (typeof value === 'number' ? value : 8),
      now: () => now,
      random,
    })
    const entries = entriesOf(cache)
    const universe = Array.from(
      { length: 60 },
      (_, i) => `${pick(['own', 'shared', 'x'])}:${i % 20}`,
    )
    const tagPool = ['t1', 't2', 't3']
    for (let step = 0; step < 6_000; step++) {
      const key = pick(universe)
      const roll = random()
      if (roll < 0.45) {
        // Sizes from tiny to past either store's budget.
        const value = pick([1, 100, 500, 1_500, 3_900, 5_000, 19_000, 25_000])
        cache.set(key, value, { tags: tagPool.filter(() => random() < 0.3) })
      } else if (roll < 0.5) {
        const lease = cache.acquireLease(key, [pick(tagPool)])
        if (random() < 0.5) cache.invalidate(invalidation({ keys: [key] }))
        cache.set(key, 10, {}, lease)
        cache.releaseLease(lease)
      } else if (roll < 0.6) cache.get(key, now)
      else if (roll < 0.65) cache.delete(key)
      else if (roll < 0.7) cache.invalidate(invalidation({ prefixes: [key.slice(0, 5)] }))
      else if (roll < 0.75) cache.invalidate(invalidation({ tags: [pick(tagPool)] }))
      else if (roll < 0.78)
        cache.invalidate(invalidation({ patterns: [pick(['*:1*', 'own:*', 'x:?'])] }))
      else if (roll < 0.79) cache.invalidate(invalidation({ all: true }))
      else if (roll < 0.8) cache.clear()
      else if (roll < 0.83) cache.purgeStale()
      else if (roll < 0.86) cache.dropIfAllExpired()
      else now += Math.floor(random() * 700)
      for (const k of universe) {
        // The store's own view first (getStale may drop an entry past its stale-if-error time).
        const stored = cache.getStale(k)
        expect(entries.get(k)).toBe(stored)
      }
      expect(entries.size).toBe(cache.size)
    }
  })
})
