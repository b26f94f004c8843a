import { Cache, type CacheOptions } from '../../src/cache/index.js'
import type { Invalidation } from '../../src/record/index.js'

/** An invalidation with only the fields given. */
export const invalidation = (fields: Partial<Invalidation>): Invalidation => ({
  keys: [],
  prefixes: [],
  all: false,
  ...fields,
})

/** A cache with a fixed one-minute TTL and room to spare, unless `options` say otherwise. */
export const newCache = (options: Partial<CacheOptions> = {}): Cache =>
  new Cache({
    ttl: { minMs: 60_000, maxMs: 60_000 },
    maxEntries: 1_000,
    maxBytes: 10_000_000,
    ...options,
  })
