/** A TTL range in milliseconds; each entry's TTL is drawn uniformly from [minMs, maxMs]. */
export interface TtlRange {
  /** Shortest TTL, ms. At least 1. */
  readonly minMs: number
  /** Longest TTL, ms. At least `minMs`; equal to it for a fixed TTL. */
  readonly maxMs: number
}

/** Settings of one keyspace: the part of a key before its first `:` (`users:42` → `users`). */
export interface KeyspaceOptions {
  /** TTL range of this keyspace's entries. Default: the cache's `ttl`. */
  readonly ttl?: TtlRange
  /** TTL range of this keyspace's "not found" entries. Default: the cache's `negativeTtl`. */
  readonly negativeTtl?: TtlRange
  /**
   * Give the keyspace a store of its own, bounded by these instead of sharing the default store's
   * budget. Its memory is then in addition to the cache's `maxBytes`.
   */
  readonly maxEntries?: number
  /** Byte budget of the keyspace's own store (estimated sizes). */
  readonly maxBytes?: number
}

export interface CacheOptions {
  /** Default TTL range. */
  readonly ttl: TtlRange
  /**
   * TTL range of "not found" entries (`undefined` or `null` values), usually shorter, so that a
   * key created elsewhere is found soon even if its invalidation is lost. Default: `ttl`.
   */
  readonly negativeTtl?: TtlRange
  /** Most entries held in the default store. */
  readonly maxEntries: number
  /** Byte budget of the default store, by estimated value size (see `sizeOf`). */
  readonly maxBytes: number
  readonly keyspaces?: Readonly<Record<string, KeyspaceOptions>>
  /** Estimated bytes of a value. Default: a structural estimate (`estimateBytes`). */
  readonly sizeOf?: (value: unknown, key: string) => number
  /** Source of randomness for TTLs, in [0, 1). Default `Math.random`. */
  readonly random?: () => number
  /**
   * How long past its TTL an entry is kept for `getStale` (stale-if-error), ms. Kept entries
   * still count in `size` and the bounds, and are still evicted by invalidations. Default 0.
   */
  readonly staleIfErrorMs?: number
  /** Wall clock used for expiry, ms. Default `Date.now`. */
  readonly now?: () => number
}

export interface SetOptions {
  /** What it cost to produce the value, ms; credited as time saved on every later hit. */
  readonly costMs?: number
  /** A TTL for this entry, overriding the keyspace's range. */
  readonly ttlMs?: number
  /**
   * Tags (surrogate keys) of this entry: `invalidateTags` of any of them evicts it. At most 128,
   * each 1 to 256 characters; their text counts in the entry's estimated size.
   */
  readonly tags?: readonly string[]
}

/** An entry found by `Cache.get`: the stored entry itself, not a copy. */
export interface CacheHit<T = unknown> {
  readonly value: T
  readonly costMs: number
  /** When the entry's TTL ends (ms since the epoch, by the cache's clock). */
  readonly expiresAt: number
  /** The entry's tags, if it has any. */
  readonly tags: readonly string[] | undefined
}
