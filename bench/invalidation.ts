import type { Invalidation } from '../src/record/index.js'
import { loadScache } from './lib/scache.js'
import { median, sig } from './lib/stats.js'

/** Entries held: each row fills a fresh cache with this many. */
export const SIZES = [1_000, 100_000, 1_000_000] as const
/** Invalidations timed per kind and size (the evicted entries put back between them). */
const ROUNDS = 300

/**
 * Keys `users:0000000` … : zero-padded, so that the prefix `users:000012` matches exactly 10 keys
 * (120 to 129) at every size. Every entry carries the tag `group:<n / 10>`: 10 entries a tag.
 * Beside them, 10 keys `people:<n>:profile` for the pattern `people:000012*:profile` to match,
 * and 10 `people:<n>:settings` it tests and spares.
 */
const keyOf = (i: number): string => `users:${String(i).padStart(7, '0')}`
const personOf = (i: number, part: string): string => `people:${String(i).padStart(7, '0')}:${part}`
const MATCHES = 10

export interface InvalidationResult {
  /** µs per invalidation that evicts 10 entries (median of 300), by kind and entries held. */
  readonly us: Record<'prefix' | 'tag' | 'pattern', Record<string, number>>
  /** One prefix invalidation evicting 10 entries with 1M entries held over 1k (target ≈ 1). */
  readonly prefixInvalidation1MOver1k: number
  readonly tagInvalidation1MOver1k: number
  readonly patternInvalidation1MOver1k: number
  /** heapUsed per entry, bytes, with 1M entries held, each with one tag (the value a number). */
  readonly heapBytesPerEntryAt1M: number
  /** The cache's own estimate of the same (`cache.bytes / entries`). */
  readonly estimatedBytesPerEntryAt1M: number
}

/** Times one invalidation, checks what it evicted, and puts the entries back. */
const timeOnce = (run: () => number, refill: () => void): number => {
  const started = process.hrtime.bigint()
  const evicted = run()
  const us = Number(process.hrtime.bigint() - started) / 1_000
  if (evicted !== MATCHES) throw new Error(`bench: evicted ${evicted}, not ${MATCHES}`)
  refill()
  return us
}

const KINDS = ['prefix', 'tag', 'pattern'] as const
const INVALIDATIONS: Record<(typeof KINDS)[number], Invalidation> = {
  prefix: { keys: [], prefixes: ['users:000012'], all: false },
  tag: { keys: [], prefixes: [], all: false, tags: ['group:12'] },
  pattern: { keys: [], prefixes: [], all: false, patterns: ['people:000012*:profile'] },
}

export const invalidationGrowth = async (): Promise<InvalidationResult> => {
  const { Cache } = await loadScache()
  let heapBytesPerEntryAt1M = Number.NaN
  let estimatedBytesPerEntryAt1M = Number.NaN
  // Largest first, so that its heap is weighed alone; all are then timed in interleaved rounds
  // (the order rotating), after a warm-up, so that no size is measured on colder code.
  const caches = [...SIZES].reverse().map((size) => {
    globalThis.gc?.()
    const heapBefore = process.memoryUsage().heapUsed
    const cache = new Cache({
      ttl: { minMs: 3_600_000, maxMs: 3_600_000 },
      maxEntries: size * 2 + 100,
      maxBytes: 2 ** 40,
    })
    const put = (i: number) => cache.set(keyOf(i), i, { tags: [`group:${Math.floor(i / 10)}`] })
    for (let i = 0; i < size; i++) put(i)
    if (size === 1_000_000) {
      globalThis.gc?.()
      heapBytesPerEntryAt1M = sig((process.memoryUsage().heapUsed - heapBefore) / size)
      estimatedBytesPerEntryAt1M = sig(cache.bytes / size)
    }
    const refill = (kind: (typeof KINDS)[number]) => {
      for (let i = 120; i < 130; i++) {
        if (kind === 'pattern') cache.set(personOf(i, 'profile'), i)
        else put(i)
      }
    }
    refill('pattern')
    for (let i = 120; i < 130; i++) cache.set(personOf(i, 'settings'), i)
    return {
      row: `${size.toLocaleString('en-US')} entries`,
      run: (kind: (typeof KINDS)[number]) =>
        timeOnce(
          () => cache.invalidate(INVALIDATIONS[kind]),
          () => refill(kind),
        ),
    }
  })
  for (let i = 0; i < 1_000; i++) for (const kind of KINDS) caches[i % caches.length]?.run(kind)
  const samples = new Map<string, number[]>()
  for (let round = 0; round < ROUNDS; round++)
    for (let c = 0; c < caches.length; c++) {
      const cache = caches[(c + round) % caches.length] as (typeof caches)[number]
      for (const kind of KINDS) {
        const key = `${kind} ${cache.row}`
        samples.set(key, [...(samples.get(key) ?? []), cache.run(kind)])
      }
    }
  const us: InvalidationResult['us'] = { prefix: {}, tag: {}, pattern: {} }
  for (const kind of KINDS)
    for (const size of SIZES) {
      const row = `${size.toLocaleString('en-US')} entries`
      us[kind][row] = sig(median(samples.get(`${kind} ${row}`) ?? []))
    }
  const ratio = (kind: keyof InvalidationResult['us']) =>
    sig((us[kind]['1,000,000 entries'] ?? Number.NaN) / (us[kind]['1,000 entries'] ?? Number.NaN))
  return {
    us,
    prefixInvalidation1MOver1k: ratio('prefix'),
    tagInvalidation1MOver1k: ratio('tag'),
    patternInvalidation1MOver1k: ratio('pattern'),
    heapBytesPerEntryAt1M,
    estimatedBytesPerEntryAt1M,
  }
}
