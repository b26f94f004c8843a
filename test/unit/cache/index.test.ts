import { describe, expect, it } from 'vitest'
import { KeyIndex } from '../../../src/cache/key-index.js'
import { InvalidKeyError } from '../../../src/errors.js'
import { type Invalidation, recordLimits } from '../../../src/record/index.js'
import { compilePattern } from '../../../src/record/pattern.js'
import { invalidation, newCache } from '../../support/cache.js'
import { seededRandom } from '../../support/prng.js'

describe('KeyIndex', () => {
  it('keeps keys in order through adds and deletes across many chunks', () => {
    const random = seededRandom(7)
    const index = new KeyIndex()
    const model = new Set<string>()
    for (let i = 0; i < 20_000; i++) {
      const key = `k${Math.floor(random() * 5_000)}:${Math.floor(random() * 10)}`
      if (random() < 0.6) {
        index.add(key)
        model.add(key)
      } else expect(index.delete(key)).toBe(model.delete(key))
    }
    expect(index.size).toBe(model.size)
    const sorted = [...model].sort()
    expect(index.withPrefix('')).toEqual(sorted)
    for (const prefix of ['k1', 'k12', 'k4999:', 'k', 'z', 'k2:3']) {
      expect(index.withPrefix(prefix)).toEqual(sorted.filter((key) => key.startsWith(prefix)))
    }
    expect(index.withPrefix('k1', 5)).toEqual(
      sorted.filter((key) => key.startsWith('k1')).slice(0, 5),
    )
    index.clear()
    expect(index.withPrefix('')).toEqual([])
  })
})

describe('tags', () => {
  it('invalidateTags evicts exactly the entries stored with a tag, in every store', () => {
    const cache = newCache({ keyspaces: { users: { maxEntries: 10 } } })
    cache.set('users:7', 'u', { tags: ['user:7'] })
    cache.set('orders:by-user:7', [1, 2], { tags: ['user:7', 'orders'] })
    cache.set('orders:by-user:8', [3], { tags: ['user:8', 'orders'] })
    cache.set('plain', 1)
    expect(cache.get('orders:by-user:7')?.tags).toEqual(['user:7', 'orders'])
    expect(cache.invalidate(invalidation({ tags: ['user:7', 'none'] }))).toBe(2)
    expect([cache.has('users:7'), cache.has('orders:by-user:7')]).toEqual([false, false])
    expect(cache.has('orders:by-user:8')).toBe(true)
    expect(cache.invalidate(invalidation({ tags: ['orders'] }))).toBe(1)
    expect(cache.has('plain')).toBe(true)
  })

  it('a replaced entry keeps only its new tags; a deleted or evicted one none', () => {
    const cache = newCache({ maxEntries: 2 })
    cache.set('a', 1, { tags: ['old', 'both'] })
    cache.set('a', 2, { tags: ['both', 'new'] })
    expect(cache.invalidate(invalidation({ tags: ['old'] }))).toBe(0)
    expect(cache.has('a')).toBe(true)
    cache.set('b', 1, { tags: ['t'] })
    cache.set('c', 1)
    // `a` was evicted for room: its tags no longer name it, so a new untagged `a` survives.
    cache.set('a', 3)
    expect(cache.invalidate(invalidation({ tags: ['both', 'new'] }))).toBe(0)
    expect(cache.get('a')?.value).toBe(3)
  })

  it('a value too large for its store drops the old entry from the indexes too', () => {
    const cache = newCache({ maxBytes: 2_000, sizeOf: (value) => (value === 'big' ? 5_000 : 10) })
    cache.set('k:1', 'small', { tags: ['t'] })
    expect(cache.set('k:1', 'big', { tags: ['t'] })).toBe(false)
    expect(cache.has('k:1')).toBe(false)
    cache.set('k:2', 'small')
    expect(cache.indexed).toEqual({ entries: 1, keys: 1, taggings: 0 })
    expect(cache.invalidate(invalidation({ tags: ['t'] }))).toBe(0)
    expect(cache.invalidate(invalidation({ prefixes: ['k:'] }))).toBe(1)
  })

  it('tags are validated and counted in the entry size', () => {
    const cache = newCache()
    expect(() => cache.set('a', 1, { tags: 'user:7' as unknown as string[] })).toThrow(
      InvalidKeyError,
    )
    expect(() => cache.set('a', 1, { tags: [''] })).toThrow(/tag "" must not be empty/)
    expect(() => cache.set('a', 1, { tags: ['x'.repeat(recordLimits.maxTagLength + 1)] })).toThrow(
      InvalidKeyError,
    )
    expect(() =>
      cache.set('a', 1, {
        tags: Array.from({ length: recordLimits.maxTagsPerEntry + 1 }, (_, i) => `t${i}`),
      }),
    ).toThrow(/at most 128 tags/)
    cache.set('a', 1)
    const untagged = cache.bytes
    cache.set('a', 1, { tags: ['x'.repeat(200), 'y'.repeat(200)] })
    // Both tags' text (2 bytes a character) and their index entries.
    expect(cache.bytes - untagged).toBeGreaterThanOrEqual(800)
    // Duplicates are one tag.
    cache.set('b', 1, { tags: ['t', 't'] })
    expect(cache.get('b')?.tags).toEqual(['t'])
  })
})

describe('the indexes against a model (random operations)', () => {
  it('prefix, tag and pattern invalidations evict exactly what a full scan would', () => {
    const random = seededRandom(11)
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T
    const cache = newCache({
      maxEntries: 300,
      keyspaces: { b: { maxEntries: 50 } },
      sizeOf: (value) => (value === 'huge' ? 20_000_000 : 8),
    })
    const tagsOf = new Map<string, readonly string[]>()
    const keyOf = () => `${pick(['a', 'b', 'c'])}:${Math.floor(random() * 40)}:${pick(['x', 'y'])}`
    const tagPool = ['t1', 't2', 't3', 't4']
    const live = () => [...tagsOf.keys()].filter((key) => cache.has(key))
    for (let step = 0; step < 4_000; step++) {
      const roll = random()
      if (roll < 0.6) {
        const key = keyOf()
        const tags = tagPool.filter(() => random() < 0.3)
        const value = random() < 0.02 ? 'huge' : 'v'
        if (cache.set(key, value, { tags })) tagsOf.set(key, tags)
      } else if (roll < 0.7) {
        cache.delete(keyOf())
      } else {
        const before = live()
        let covered: (key: string) => boolean
        let applied: Invalidation
        if (roll < 0.8) {
          const prefix = pick(['a:', 'b:1', 'c:2', 'a:3:', 'z'])
          covered = (key) => key.startsWith(prefix)
          applied = invalidation({ prefixes: [prefix] })
        } else if (roll < 0.9) {
          const tag = pick(tagPool)
          covered = (key) => (tagsOf.get(key) ?? []).includes(tag)
          applied = invalidation({ tags: [tag] })
        } else {
          const pattern = compilePattern(pick(['*:1*:x', 'a:*:y', 'b:2*:*', '*:*:*']))
          covered = (key) => pattern.matches(key)
          applied = invalidation({ patterns: [pattern.source] })
        }
        const expected = before.filter(covered)
        expect(cache.invalidate(applied)).toBe(expected.length)
        expect(live()).toEqual(before.filter((key) => !covered(key)))
      }
      // The indexes hold exactly what the stores hold: nothing leaks.
      const taggings = [...tagsOf].reduce(
        (sum, [key, tags]) => sum + (cache.has(key) ? tags.length : 0),
        0,
      )
      expect(cache.indexed).toEqual({ entries: cache.size, keys: cache.size, taggings })
      if (step % 997 === 996) {
        cache.clear()
        expect(cache.invalidate(invalidation({ patterns: ['*:*:*'] }))).toBe(0)
      }
    }
  })
})

describe('patterns', () => {
  it('test at most the candidate budget, then evict by literal prefix or clear', () => {
    const budget = recordLimits.maxPatternCandidates
    const cache = newCache({ maxEntries: budget * 3 })
    for (let i = 0; i < budget + 10; i++) cache.set(`users:${i}:profile`, i)
    cache.set('users:1:settings', 's')
    cache.set('other:1', 'o')
    // Over the budget: every key starting with `users:` goes, matching or not; `other:1` stays.
    expect(cache.invalidate(invalidation({ patterns: ['users:*:profile'] }))).toBe(budget + 11)
    expect(cache.has('other:1')).toBe(true)
    expect(cache.patternClears).toBe(0)
    for (let i = 0; i < 100; i++) cache.set(`users:${i}:profile`, i)
    cache.set('users:1:settings', 's')
    expect(cache.invalidate(invalidation({ patterns: ['users:*:profile'] }))).toBe(100)
    expect(cache.get('users:1:settings')?.value).toBe('s')
    // Starting with `*`, past the budget there is no narrower set than everything.
    for (let i = 0; i < budget + 1; i++) cache.set(`k:${i}`, i)
    const size = cache.size
    expect(cache.invalidate(invalidation({ patterns: ['*:nothing'] }))).toBe(size)
    expect(cache.patternClears).toBe(1)
    expect(cache.size).toBe(0)
  })
})

describe('the fill guard and tags', () => {
  it('a load overtaken by an invalidation of one of its tags is not stored, even one it learned later', () => {
    const cache = newCache()
    const early = cache.acquireLease('orders:by-user:7', ['user:7'])
    const late = cache.acquireLease('orders:by-user:8')
    const other = cache.acquireLease('orders:by-user:9', ['user:9'])
    cache.revokeLeases(invalidation({ tags: ['user:7', 'user:8'] }))
    // `late` learns its tag after the invalidation arrived: its value may predate it.
    late.tag(['user:8'])
    other.tag(['orders'])
    expect([early.valid, late.valid, other.valid]).toEqual([false, false, true])
    expect(cache.set('orders:by-user:7', 1, { tags: early.tags }, early)).toBe(false)
    expect(cache.set('orders:by-user:8', 1, { tags: late.tags }, late)).toBe(false)
    expect(cache.set('orders:by-user:9', 1, { tags: other.tags }, other)).toBe(true)
    expect(cache.get('orders:by-user:9')?.tags).toEqual(['user:9', 'orders'])
  })

  it('a pattern covering the key revokes the lease', () => {
    const cache = newCache()
    const lease = cache.acquireLease('users:7:profile')
    const spared = cache.acquireLease('users:7:settings')
    cache.revokeLeases(invalidation({ patterns: ['users:*:profile'] }))
    expect([lease.valid, spared.valid]).toEqual([false, true])
  })
})
