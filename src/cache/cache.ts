import { LRUCache } from 'lru-cache'
import { InvalidKeyError } from '../errors.js'
import { type Invalidation, keyProblem, recordLimits, tagProblem } from '../record/index.js'
import { compilePattern } from '../record/pattern.js'
import { FillGuard, type Lease } from './fill-guard.js'
import { KeyIndex } from './key-index.js'
import { recencyOf } from './recency.js'
import { ENTRY_OVERHEAD_BYTES, estimateBytes, keyBytes, sizeBytes } from './size.js'
import type { CacheHit, CacheOptions, KeyspaceOptions, SetOptions, TtlRange } from './types.js'

/**
 * A stored entry, handed to readers as it is: a copy per hit costs about 5 % of a hit. It is kept
 * `staleIfErrorMs` past `expiresAt`, for `getStale`.
 */
export interface Entry extends CacheHit {
  /** The recency period (`recencyOf`) in which the entry last moved to its store's recent end. */
  recency: number
}

/**
 * Estimated bytes the key and tag indexes hold for an entry: its slot in the sorted key index,
 * and per tag its membership in the tag's set of keys plus the entry's own list of tags. The
 * tags' text is counted as well (`tagBytes`): each entry may hold its own copy of it.
 */
const INDEX_BYTES_PER_ENTRY = 16
const INDEX_BYTES_PER_TAG = 56

/** Estimated bytes of an entry's tags: their text and their place in the indexes. */
const tagBytes = (tags: readonly string[] | undefined): number => {
  if (tags === undefined) return 0
  let bytes = 16
  for (const tag of tags) bytes += INDEX_BYTES_PER_TAG + tag.length * 2
  return bytes
}

/**
 * Throws `InvalidKeyError` unless `tags` are valid entry tags (at most 128, each 1 to 256
 * characters); returns them without duplicates, or undefined for none.
 */
export const checkTags = (tags: unknown): readonly string[] | undefined => {
  if (tags === undefined) return undefined
  if (!Array.isArray(tags))
    throw new InvalidKeyError(
      `tags must be an array of strings (got ${typeof tags === 'string' ? 'a string: for one, pass [it]' : typeof tags})`,
    )
  if (tags.length === 0) return undefined
  const unique = [...new Set(tags as unknown[])]
  if (unique.length > recordLimits.maxTagsPerEntry)
    throw new InvalidKeyError(
      `an entry may have at most ${recordLimits.maxTagsPerEntry} tags (got ${unique.length})`,
    )
  for (const tag of unique) {
    const problem = tagProblem(tag)
    if (problem !== undefined) throw new InvalidKeyError(`tag ${JSON.stringify(tag)} ${problem}`)
  }
  return unique as string[]
}

interface Keyspace {
  readonly ttl: TtlRange
  /** TTL range of `undefined` and `null` values ("not found"). */
  readonly negativeTtl: TtlRange
  readonly store: LRUCache<string, Entry>
}

/** Whether a keyspace has a store of its own: it bounds its entries or its bytes. */
export const hasOwnStore = (keyspace: KeyspaceOptions): boolean =>
  keyspace.maxEntries !== undefined || keyspace.maxBytes !== undefined

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
 * Every entry the cache holds, by key, for the request cache's hit path only (not part of the
 * package's API): a hit is one lookup in this map, inlined into the caller, where lru-cache's
 * `get` is a call of about 700 bytes of bytecode. It is a view: only the cache changes it.
 */
export let entriesOf: (cache: Cache) => ReadonlyMap<string, Entry>

/** A hit of `entry` found in `entriesOf` at `now` (see `Cache.#touch`), for the same path. */
export let touchEntry: (cache: Cache, key: string, entry: Entry, now: number) => void

/** The default `sizeOf`: the estimate of a value of unknown making. */
const defaultSizeOf = (value: unknown): number => sizeBytes(value, false)

/**
 * The in-memory store of one container: lru-cache stores bounded by entries and estimated bytes,
 * randomised TTLs per keyspace, eviction by key, prefix, tag, pattern or everything, and the
 * fill guard.
 *
 * lru-cache's own hooks (`onInsert`, `dispose`) keep three indexes exactly in step with the
 * stores, whatever removes an entry (a delete, an eviction for room, a replacement): every entry
 * by key, which a hit reads instead of the store (see `entriesOf`); every key in order, so that
 * a prefix costs its matches (O(matches · log n)); and per tag the keys stored with it. A hit
 * moves its entry to the store's recent end once per recency period (`RECENCY_MS`), not every
 * time, so eviction is least recently used to within a second.
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
  /** Every entry held, by key, in every store: keys are unique across stores (one keyspace each). */
  readonly #entries = new Map<string, Entry>()
  /** Every key held, in order. */
  readonly #keys = new KeyIndex()
  /** Per tag, the keys of the entries stored with it. */
  readonly #tags = new Map<string, Set<string>>()
  /** Set while every store is cleared at once: the indexes are reset whole, not key by key. */
  #clearing = false
  #patternClears = 0
  /**
   * The latest time at which anything stored is dropped (its TTL plus `staleIfErrorMs`), so that
   * "everything expired" is one comparison. Never lowered by deletes: it may say "not yet" for a
   * cache whose late entries were evicted, never "all expired" for one that holds a live entry.
   */
  #lastDropAt = Number.NEGATIVE_INFINITY

  static {
    entriesOf = (cache) => cache.#entries
    touchEntry = (cache, key, entry, now) => cache.#touch(key, entry, now)
  }

  constructor(options: CacheOptions) {
    // Not `estimateBytes` itself, which would take the key it is called with for its options.
    this.#sizeOf =
      options.sizeOf === undefined || options.sizeOf === estimateBytes
        ? defaultSizeOf
        : options.sizeOf
    this.#random = options.random ?? Math.random
    const now = options.now ?? Date.now
    this.#now = now
    this.#staleIfErrorMs = options.staleIfErrorMs ?? 0
    const onInsert = (entry: Entry, key: string, reason: LRUCache.InsertReason): void =>
      this.#inserted(entry, key, reason)
    const dispose = (entry: Entry, key: string, reason: LRUCache.DisposeReason): void =>
      this.#disposed(entry, key, reason)
    const newStore = (maxEntries: number, maxBytes: number): LRUCache<string, Entry> => {
      const store = new LRUCache<string, Entry>({
        max: maxEntries,
        maxSize: maxBytes,
        onInsert,
        dispose,
      })
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
      const ownStore = hasOwnStore(keyspace)
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

  /** lru-cache stored `entry`: a new key, or a new entry for a key it held (`replace`). */
  #inserted(entry: Entry, key: string, reason: LRUCache.InsertReason): void {
    this.#entries.set(key, entry)
    if (reason === 'add') this.#keys.add(key)
    const tags = entry.tags
    if (tags === undefined) return
    for (const tag of tags) {
      let keys = this.#tags.get(tag)
      if (keys === undefined) {
        keys = new Set()
        this.#tags.set(tag, keys)
      }
      keys.add(key)
    }
  }

  /**
   * lru-cache let go of `entry`: deleted, evicted for room, or (`set`) replaced by a new entry for
   * the same key, which keeps its place in the key index. `set` never means a removal here: an
   * entry too large for its store, which lru-cache would drop with that reason, is refused by
   * `set` before it reaches the store.
   */
  #disposed(entry: Entry, key: string, reason: LRUCache.DisposeReason): void {
    if (this.#clearing) return
    if (reason !== 'set') {
      this.#entries.delete(key)
      this.#keys.delete(key)
    }
    const tags = entry.tags
    if (tags === undefined) return
    for (const tag of tags) {
      const keys = this.#tags.get(tag)
      if (keys === undefined) continue
      keys.delete(key)
      if (keys.size === 0) this.#tags.delete(tag)
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
    const entry = this.#entries.get(key)
    if (entry === undefined) return undefined
    if (now > entry.expiresAt) return this.#expired(key, entry, now)
    this.#touch(key, entry, now)
    return entry as CacheHit<T>
  }

  /**
   * A hit of `entry` at `now`: moves it to its store's most recently used end, unless it moved
   * there in this recency period already.
   */
  #touch(key: string, entry: Entry, now: number): void {
    const recency = recencyOf(now)
    if (entry.recency === recency) return
    entry.recency = recency
    this.#keyspace(key).store.get(key)
  }

  /** An entry past its TTL: not served, and dropped once past its stale-if-error time too. */
  #expired(key: string, entry: Entry, now: number): undefined {
    if (now > entry.expiresAt + this.#staleIfErrorMs) this.#keyspace(key).store.delete(key)
    return undefined
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
   * `undefined` and `null`). Returns false when the value was not stored: larger than its
   * store's byte budget or not sizeable (either way the key's old entry is dropped), or (with a
   * lease) overtaken by an invalidation while it was loading.
   */
  set(key: string, value: unknown, options: SetOptions = {}, lease?: Lease): boolean {
    checkKey(key)
    checkTtlMs(options.ttlMs)
    if (options.costMs !== undefined && !(Number.isFinite(options.costMs) && options.costMs >= 0)) {
      throw new RangeError(
        `scache: costMs must be a finite number of at least 0 (got ${options.costMs})`,
      )
    }
    const tags = checkTags(options.tags)
    if (lease !== undefined && !lease.valid) return false
    const keyspace = this.#keyspace(key)
    const measured = this.#entrySize(key, value, options.costMs ?? 0)
    const size =
      measured === undefined ? undefined : measured + INDEX_BYTES_PER_ENTRY + tagBytes(tags)
    if (size === undefined || size > keyspace.store.maxSize) {
      // A value not stored still supersedes the key's old one, as lru-cache drops it for one too
      // large (its dispose reason `set`, as for a replacement): a delete, so that the indexes see
      // a removal.
      keyspace.store.delete(key)
      return false
    }
    const notFound = value === undefined || value === null
    const ttl =
      options.ttlMs ?? drawTtl(notFound ? keyspace.negativeTtl : keyspace.ttl, this.#random)
    const status: LRUCache.Status<string, Entry> = {}
    const now = this.#now()
    const expiresAt = now + ttl
    const dropAt = expiresAt + this.#staleIfErrorMs
    if (dropAt > this.#lastDropAt) this.#lastDropAt = dropAt
    keyspace.store.set(
      key,
      // Kept past its TTL for `getStale`; `get` and `has` stop at the TTL itself.
      // Every entry has the same shape (`tags` undefined when none): one hidden class for `get`.
      { value, costMs: options.costMs ?? 0, expiresAt, tags, recency: recencyOf(now) },
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
    return this.#evict(key, this.#now())
  }

  /**
   * Applies one invalidation: evicts the keys, every key starting with a prefix, every entry
   * stored with a tag, every key matching a pattern, or everything, and revokes the leases of
   * loads it overtakes. Returns how many live entries were evicted. Each part costs what it
   * evicts (times log n for prefixes), not the size of the cache; patterns test at most
   * `recordLimits.maxPatternCandidates` keys in all, and past that evict by literal prefix, or
   * clear the cache for a pattern that starts with `*` (`patternClears` counts those).
   */
  invalidate(invalidation: Invalidation): number {
    this.#guard.revoke(invalidation)
    if (invalidation.all) return this.clear()
    const now = this.#now()
    let evicted = 0
    for (const key of invalidation.keys) if (this.#evict(key, now)) evicted++
    for (const prefix of invalidation.prefixes)
      for (const key of this.#keys.withPrefix(prefix)) if (this.#evict(key, now)) evicted++
    for (const tag of invalidation.tags ?? []) {
      const keys = this.#tags.get(tag)
      if (keys === undefined) continue
      for (const key of [...keys]) if (this.#evict(key, now)) evicted++
    }
    const patterns = invalidation.patterns ?? []
    let budget: number = recordLimits.maxPatternCandidates
    for (const source of patterns) {
      const pattern = compilePattern(source)
      const candidates = this.#keys.withPrefix(pattern.literalPrefix, budget + 1)
      if (candidates.length <= budget) {
        budget -= candidates.length
        for (const key of candidates) if (pattern.matches(key) && this.#evict(key, now)) evicted++
      } else if (pattern.literalPrefix === '') {
        // Any key may match, and testing them all would cost the whole cache: clear it.
        this.#patternClears++
        return evicted + this.clear()
      } else {
        // Past the budget: every key the pattern can match starts with its literal prefix.
        budget = 0
        for (const key of this.#keys.withPrefix(pattern.literalPrefix))
          if (this.#evict(key, now)) evicted++
      }
    }
    return evicted
  }

  /**
   * Entries in the map of entries, keys in the key index and (key, tag) pairs in the tag index:
   * equal to `size` (twice) and to the tags of the entries held, unless the indexes drifted from
   * the stores (a leak, or a stale entry a hit could find, that tests look for).
   */
  get indexed(): { readonly entries: number; readonly keys: number; readonly taggings: number } {
    let taggings = 0
    for (const keys of this.#tags.values()) taggings += keys.size
    return { entries: this.#entries.size, keys: this.#keys.size, taggings }
  }

  /** Times a pattern past the candidate budget cleared the cache (it started with `*`). */
  get patternClears(): number {
    return this.#patternClears
  }

  /** Removes `key`; true when its entry was live at `now`. */
  #evict(key: string, now: number): boolean {
    const entry = this.#entries.get(key)
    if (entry === undefined) return false
    this.#keyspace(key).store.delete(key)
    return now <= entry.expiresAt
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
    this.#clearStores()
    this.#lastDropAt = Number.NEGATIVE_INFINITY
    return true
  }

  /** Empties every store and the indexes, which are reset whole. */
  #clearStores(): void {
    this.#clearing = true
    try {
      for (const store of this.#stores) store.clear()
    } finally {
      this.#clearing = false
      this.#entries.clear()
      this.#keys.clear()
      this.#tags.clear()
    }
  }

  /** Evicts everything. Returns how many live entries were evicted. */
  clear(): number {
    const now = this.#now()
    let evicted = 0
    for (const store of this.#stores) {
      // Count only what was still live.
      for (const entry of store.values()) if (now <= entry.expiresAt) evicted++
    }
    this.#clearStores()
    this.#lastDropAt = Number.NEGATIVE_INFINITY
    return evicted
  }

  /**
   * Starts a guarded load of `key` (whose entry will carry `tags`); pass the lease to `set` when
   * it finishes, then release it. Tags the load learns later go through `lease.tag`.
   */
  acquireLease(key: string, tags?: readonly string[]): Lease {
    return this.#guard.acquire(key, tags)
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
