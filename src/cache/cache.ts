import { LRUCache } from 'lru-cache'
import { InvalidKeyError } from '../errors.js'
import { type Invalidation, keyProblem } from '../record/index.js'
import { FillGuard, type Lease } from './fill-guard.js'
import { ENTRY_OVERHEAD_BYTES, estimateBytes, keyBytes } from './size.js'
import type { CacheHit, CacheOptions, SetOptions, TtlRange } from './types.js'

/**
 * A stored entry, handed to readers as it is: a copy per hit costs about 5 % of a hit. It is kept
 * `staleIfErrorMs` past `expiresAt`, for `getStale`.
 */
type Entry = CacheHit

interface Keyspace {
  readonly ttl: TtlRange
  /** TTL range of `undefined` and `null` values ("not found"). */
  readonly negativeTtl: TtlRange
  readonly store: LRUCache<string, Entry>
}

/** The part of a key before its first `:`; keys without one have no keyspace. */
export const keyspaceOf = (key: string): string | undefined => {
  const colon = key.indexOf(':')
  return colon === -1 ? undefined : key.slice(0, colon)
}

/** Throws `InvalidKeyError` unless `key` is a valid cache key (1 to 1,024 characters). */
export const checkKey = (key: string): void => {
  const problem = keyProblem(key)
  if (problem !== undefined) throw new InvalidKeyError(`cache key ${problem}`)
}

/** Throws `RangeError` unless `ttlMs` (a `set` or `getOrLoad` option) is a usable TTL. */
export const checkTtlMs = (ttlMs: number | undefined): void => {
  if (ttlMs !== undefined && !(Number.isInteger(ttlMs) && ttlMs >= 1)) {
    // 0 reads as "never expires" in many caches (lru-cache among them): refuse the ambiguity.
    throw new RangeError(`scache: ttlMs must be an integer of at least 1 (got ${ttlMs})`)
  }
}

/** Draws an integer TTL uniformly from [minMs, maxMs]. */
export const drawTtl = (range: TtlRange, random: () => number): number =>
  range.minMs + Math.floor(random() * (range.maxMs - range.minMs + 1))

/**
 * The in-memory store of one container: lru-cache stores bounded by entries and estimated bytes,
 * randomised TTLs per keyspace, eviction by key, prefix or everything, and the fill guard.
 *
 * Expiry is checked when an entry is read, against the wall clock: no timer ever runs, so a
 * frozen Lambda container thaws with its entries exactly as expired as they should be. The
 * entries carry their own expiry rather than lru-cache's TTL: a hit then reads the clock once
 * (and a caller that has just read it passes `now`), where lru-cache's TTL would read it again.
 */
export class Cache {
  readonly #default: Keyspace
  readonly #keyspaces = new Map<string, Keyspace>()
  readonly #stores: LRUCache<string, Entry>[] = []
  readonly #sizeOf: (value: unknown, key: string) => number
  readonly #random: () => number
  readonly #now: () => number
  readonly #staleIfErrorMs: number
  readonly #guard = new FillGuard()
  /**
   * The latest time at which anything stored is dropped (its TTL plus `staleIfErrorMs`), so that
   * "everything expired" is one comparison. Never lowered by deletes: it may say "not yet" for a
   * cache whose late entries were evicted, never "all expired" for one that holds a live entry.
   */
  #lastDropAt = Number.NEGATIVE_INFINITY

  constructor(options: CacheOptions) {
    this.#sizeOf = options.sizeOf ?? estimateBytes
    this.#random = options.random ?? Math.random
    const now = options.now ?? Date.now
    this.#now = now
    this.#staleIfErrorMs = options.staleIfErrorMs ?? 0
    const newStore = (maxEntries: number, maxBytes: number): LRUCache<string, Entry> => {
      const store = new LRUCache<string, Entry>({ max: maxEntries, maxSize: maxBytes })
      this.#stores.push(store)
      return store
    }
    const negativeTtl = options.negativeTtl ?? options.ttl
    this.#default = {
      ttl: options.ttl,
      negativeTtl,
      store: newStore(options.maxEntries, options.maxBytes),
    }
    for (const [name, keyspace] of Object.entries(options.keyspaces ?? {})) {
      const ownStore = keyspace.maxEntries !== undefined || keyspace.maxBytes !== undefined
      this.#keyspaces.set(name, {
        ttl: keyspace.ttl ?? options.ttl,
        negativeTtl: keyspace.negativeTtl ?? negativeTtl,
        store: ownStore
          ? newStore(
              keyspace.maxEntries ?? options.maxEntries,
              keyspace.maxBytes ?? options.maxBytes,
            )
          : this.#default.store,
      })
    }
  }

  #keyspace(key: string): Keyspace {
    // The common case, and the hot path of every hit: no keyspace has options of its own.
    if (this.#keyspaces.size === 0) return this.#default
    const name = keyspaceOf(key)
    return (name !== undefined && this.#keyspaces.get(name)) || this.#default
  }

  /**
   * The live entry for `key`, or undefined when absent or expired. `now` is the wall clock, for a
   * caller that has just read it.
   */
  get<T = unknown>(key: string, now: number = this.#now()): CacheHit<T> | undefined {
    const store = this.#keyspace(key).store
    const entry = store.get(key)
    if (entry === undefined) return undefined
    if (now > entry.expiresAt) {
      if (now > entry.expiresAt + this.#staleIfErrorMs) store.delete(key)
      return undefined
    }
    return entry as CacheHit<T>
  }

  /**
   * The entry for `key` even if expired, up to `staleIfErrorMs` past its TTL: what a failed load
   * may fall back to. An invalidated entry is gone, so it is never returned.
   */
  getStale<T = unknown>(key: string): CacheHit<T> | undefined {
    const store = this.#keyspace(key).store
    const entry = store.get(key)
    if (entry === undefined) return undefined
    if (this.#now() > entry.expiresAt + this.#staleIfErrorMs) {
      store.delete(key)
      return undefined
    }
    return entry as CacheHit<T>
  }

  has(key: string): boolean {
    return this.get(key) !== undefined
  }

  /**
   * Stores a value with a TTL drawn from its keyspace's range (its "not found" range for
   * `undefined` and `null`). Returns false when the value was
   * not stored: larger than its store's byte budget, or (with a lease) overtaken by an
   * invalidation while it was loading.
   */
  set(key: string, value: unknown, options: SetOptions = {}, lease?: Lease): boolean {
    checkKey(key)
    checkTtlMs(options.ttlMs)
    if (options.costMs !== undefined && !(Number.isFinite(options.costMs) && options.costMs >= 0)) {
      throw new RangeError(
        `scache: costMs must be a finite number of at least 0 (got ${options.costMs})`,
      )
    }
    if (lease !== undefined && !lease.valid) return false
    const size = this.#entrySize(key, value, options.costMs ?? 0)
    if (size === undefined) return false
    const keyspace = this.#keyspace(key)
    const notFound = value === undefined || value === null
    const ttl =
      options.ttlMs ?? drawTtl(notFound ? keyspace.negativeTtl : keyspace.ttl, this.#random)
    const status: LRUCache.Status<string, Entry> = {}
    const expiresAt = this.#now() + ttl
    const dropAt = expiresAt + this.#staleIfErrorMs
    if (dropAt > this.#lastDropAt) this.#lastDropAt = dropAt
    keyspace.store.set(
      key,
      // Kept past its TTL for `getStale`; `get` and `has` stop at the TTL itself.
      { value, costMs: options.costMs ?? 0, expiresAt },
      { size, status },
    )
    return status.set !== 'miss'
  }

  /**
   * Estimated bytes of an entry, or undefined when its value cannot be sized (too large to walk,
   * or a `sizeOf` that throws or returns something other than a finite number): such a value is
   * not stored, so the byte bound always holds.
   */
  #entrySize(key: string, value: unknown, costMs: number): number | undefined {
    let bytes: number
    try {
      bytes = this.#sizeOf(value, key)
    } catch {
      return undefined
    }
    if (typeof bytes !== 'number' || !Number.isFinite(bytes) || bytes < 0) return undefined
    // A fractional load cost is a heap number of its own.
    const costBytes = Number.isInteger(costMs) && costMs < 2 ** 30 ? 0 : 16
    return Math.ceil(bytes) + keyBytes(key) + ENTRY_OVERHEAD_BYTES + costBytes
  }

  /** Evicts `key`. Returns true when a live entry was evicted (an expired one is removed too). */
  delete(key: string): boolean {
    const live = this.has(key)
    this.#keyspace(key).store.delete(key)
    return live
  }

  /**
   * Applies one invalidation: evicts the keys, every key starting with a prefix, or everything,
   * and revokes the leases of loads it overtakes. Returns how many entries were evicted.
   */
  invalidate(invalidation: Invalidation): number {
    this.#guard.revoke(invalidation)
    if (invalidation.all) return this.clear()
    let evicted = 0
    for (const key of invalidation.keys) if (this.delete(key)) evicted++
    if (invalidation.prefixes.length > 0) {
      for (const store of this.#stores) {
        // This walks the store anyway: drop expired entries too.
        this.#purge(store)
        for (const key of [...store.keys()]) {
          if (invalidation.prefixes.some((prefix) => key.startsWith(prefix)) && store.delete(key)) {
            evicted++
          }
        }
      }
    }
    return evicted
  }

  /** Revokes the leases of loads an invalidation overtakes, without evicting anything yet. */
  revokeLeases(invalidation: Invalidation): void {
    this.#guard.revoke(invalidation)
  }

  /** Drops expired entries; `size` then counts only live ones. O(entries). */
  purgeStale(): void {
    for (const store of this.#stores) this.#purge(store)
  }

  /** Drops the entries of `store` past their TTL and stale-if-error time. */
  #purge(store: LRUCache<string, Entry>): void {
    const now = this.#now()
    const expired: string[] = []
    const dropBefore = now - this.#staleIfErrorMs
    for (const [key, entry] of store.entries()) if (entry.expiresAt < dropBefore) expired.push(key)
    for (const key of expired) store.delete(key)
  }

  /**
   * Empties the cache if every entry in it is past its TTL and stale-if-error time at `now`
   * (none can be read, even by `getStale`), in O(1) when they are not. Returns true when the
   * cache is empty afterwards.
   */
  dropIfAllExpired(now: number = this.#now()): boolean {
    if (now <= this.#lastDropAt) return false
    for (const store of this.#stores) store.clear()
    this.#lastDropAt = Number.NEGATIVE_INFINITY
    return true
  }

  /** Evicts everything. Returns how many live entries were evicted. */
  clear(): number {
    const now = this.#now()
    let evicted = 0
    for (const store of this.#stores) {
      // Count only what was still live.
      for (const entry of store.values()) if (now <= entry.expiresAt) evicted++
      store.clear()
    }
    this.#lastDropAt = Number.NEGATIVE_INFINITY
    return evicted
  }

  /** Starts a guarded load of `key`; pass the lease to `set` when it finishes, then release it. */
  acquireLease(key: string): Lease {
    return this.#guard.acquire(key)
  }

  releaseLease(lease: Lease): void {
    this.#guard.release(lease)
  }

  /** Loads in flight. */
  get loading(): number {
    return this.#guard.size
  }

  /** Entries held, expired ones included until they are next touched. */
  get size(): number {
    let size = 0
    for (const store of this.#stores) size += store.size
    return size
  }

  /** Estimated bytes held. */
  get bytes(): number {
    let bytes = 0
    for (const store of this.#stores) bytes += store.calculatedSize
    return bytes
  }
}
