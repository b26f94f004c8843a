import {
  type Cache,
  type CacheHit,
  checkKey,
  checkTags,
  checkTtlMs,
  type Entry,
  entriesOf,
  type SetOptions,
  touchEntry,
} from '../cache/index.js'
import { InvalidKeyError } from '../errors.js'
import { toArray } from '../publish/index.js'
import { type Invalidation, tagProblem } from '../record/index.js'
import { patternProblem } from '../record/pattern.js'
import { type Entries, pairsOf } from './entries.js'
import type { Freshness, ServingTime } from './freshness.js'
import type { Counters } from './invocation.js'
import type { Loads } from './loads.js'
import type {
  CachedEntry,
  CacheStats,
  InvocationContext,
  LoadContext,
  LoadOptions,
  RequestCache,
} from './types.js'

/** Throws `InvalidKeyError` unless every entry of `list` is a valid tag or pattern. */
const checkEach = (
  kind: 'tag' | 'pattern',
  list: readonly string[],
  problemOf: (value: unknown) => string | undefined,
): readonly string[] => {
  for (const item of list) {
    const problem = problemOf(item)
    if (problem !== undefined)
      throw new InvalidKeyError(`${kind} ${JSON.stringify(item)} ${problem}`)
  }
  return list
}

/** Time left to the handler after a publish cut short by the invocation's end, ms. */
const PUBLISH_MARGIN_MS = 500

/** The container's parts a request cache works with: one per container, shared by invocations. */
export interface Engine {
  readonly cache: Cache
  readonly loads: Loads
  readonly freshness: Freshness
  readonly now: () => number
  /** Evicts what `invalidation` covers, counted in `counters`; returns how many. */
  apply(invalidation: Invalidation, counters: Counters): number
  /**
   * Publishes an invalidation to every container; resolves once acknowledged, or rejects with
   * `PublishError` after `timeoutMs` at most.
   */
  publish(invalidation: Invalidation, timeoutMs: number | undefined): Promise<void>
  /**
   * Polls if one is due (the poll interval has passed since the last), so that a long invocation
   * does not serve its later reads from an ever older poll.
   */
  refresh(context: InvocationContext, counters: Counters): Promise<unknown> | undefined
  stats(): CacheStats
}

/**
 * `context.cache`: one per invocation, a small object over the container's engine, with its
 * methods on the prototype (nothing is rebuilt per invocation but the object and its counters).
 * Every read asks `Freshness` whether the cache may be trusted at that moment.
 */
export class InvocationCache implements RequestCache {
  readonly #engine: Engine
  readonly #counters: Counters
  /** This invocation's poll was owed but held back by the backoff. */
  readonly #deferred: boolean
  readonly #context: InvocationContext
  // What a hit uses, held here so that a hit loads each in one step.
  /** The bound and the clock; one that always bypasses for a deferred poll with 'bypass'. */
  readonly #serving: ServingTime
  /** The cache's entries by key (see `entriesOf`). */
  readonly #entries: ReadonlyMap<string, Entry>
  readonly #cache: Cache
  /** Asked by a load when it would serve a stale value: is the cache bypassed now? */
  readonly #bypassing = (): boolean => this.bypassed

  constructor(
    engine: Engine,
    counters: Counters,
    deferred: boolean,
    context: InvocationContext = {},
  ) {
    this.#engine = engine
    this.#counters = counters
    this.#deferred = deferred
    this.#context = context
    const { freshness } = engine
    this.#serving =
      deferred && freshness.bypassOnError ? freshness.bypassedServing : freshness.serving
    this.#cache = engine.cache
    this.#entries = entriesOf(engine.cache)
  }

  get bypassed(): boolean {
    return this.#engine.freshness.bypassing(this.#deferred, this.#engine.now())
  }

  stats(): CacheStats {
    return this.#engine.stats()
  }

  get<T = unknown>(key: string): T | undefined {
    // The hot path of a hit, one lookup in the cache's map of entries, straight through: the
    // entry's expiry is compared with the time `ServingTime` keeps for this run of code while the
    // cache is trusted, and its recency period with that time's. Anything else (no time kept yet,
    // a bypass, a miss, an expired entry, an entry to move to its store's recent end) fails those
    // comparisons and is sorted out of line. The bound is so asked on every read, as a long
    // handler may outlive it.
    const serving = this.#serving
    const now = serving.at
    const entry = this.#entries.get(key)
    if (entry === undefined || now > entry.expiresAt || entry.recency !== serving.recency)
      return this.#notServed<T>(key, entry, now)
    const counters = this.#counters
    counters.hits++
    counters.savedMs += entry.costMs
    return entry.value as T
  }

  /**
   * `get` when the kept time did not serve `entry` at once: none was kept (+Infinity), so
   * `ServingTime` is asked, and the read is a bypass, a hit, or a miss; else a hit of an entry
   * whose recency period has passed (moved to its store's recent end), or a miss, absent or
   * expired (`Cache.get` drops it once past stale-if-error).
   */
  #notServed<T>(key: string, entry: Entry | undefined, kept: number): T | undefined {
    const now = kept === Number.POSITIVE_INFINITY ? this.#serving.read() : kept
    if (Number.isNaN(now)) return this.#missed(true)
    if (entry === undefined) return this.#missed(false)
    if (now > entry.expiresAt) {
      this.#cache.get(key, now)
      return this.#missed(false)
    }
    touchEntry(this.#cache, key, entry, now)
    this.#counters.hits++
    this.#counters.savedMs += entry.costMs
    return entry.value as T
  }

  /** Counts a read that found nothing: bypassed, or a miss. */
  #missed(bypassed: boolean): undefined {
    if (bypassed) this.#counters.bypassed++
    else this.#counters.misses++
    return undefined
  }

  /**
   * What `key` holds now, for HTTP validators (`httpCaching`), without counting a hit or a miss:
   * its value, when its TTL ends, and when the cache stops serving what it knows unless a poll
   * succeeds (`trustedUntil`: the staleness bound). Undefined when absent, expired or bypassed.
   */
  entry<T = unknown>(key: string): CachedEntry<T> | undefined {
    const now = this.#engine.now()
    if (this.#engine.freshness.bypassing(this.#deferred, now)) return undefined
    const hit = this.#engine.cache.get<T>(key, now)
    if (hit === undefined) return undefined
    const { trustedUntil } = this.#engine.freshness
    return { value: hit.value, expiresAt: hit.expiresAt, trustedUntil, now }
  }

  /**
   * A write-through: loads of `key` in flight started before this value existed, so their
   * leases are revoked (they return their value but do not store it), whether or not it is
   * stored. Not stored while bypassed, it still drops the value it supersedes.
   */
  set(key: string, value: unknown, options?: SetOptions): boolean {
    checkKey(key)
    this.#supersede([key])
    if (!this.bypassed) return this.#engine.cache.set(key, value, options)
    this.#engine.cache.delete(key)
    return false
  }

  getMany<T = unknown>(keys: readonly string[]): Map<string, T> {
    const found = new Map<string, T>()
    if (this.bypassed) {
      this.#counters.bypassed += keys.length
      return found
    }
    for (const key of keys) {
      const hit = this.#lookup<T>(key)
      // A cached "not found" is a hit, but, as in `getOrLoadMany`, absent from the map.
      if (hit !== undefined && hit.value !== undefined && hit.value !== null)
        found.set(key, hit.value)
    }
    return found
  }

  setMany(entries: Entries, options?: SetOptions): number {
    const pairs = pairsOf(entries)
    for (const [key] of pairs) checkKey(key)
    this.#supersede(pairs.map(([key]) => key))
    if (this.bypassed) {
      for (const [key] of pairs) this.#engine.cache.delete(key)
      return 0
    }
    let stored = 0
    for (const [key, value] of pairs) if (this.#engine.cache.set(key, value, options)) stored++
    return stored
  }

  async getOrLoad<T>(
    key: string,
    loader: (load: LoadContext) => T | Promise<T>,
    options?: LoadOptions,
  ): Promise<T> {
    checkKey(key)
    checkTtlMs(options?.ttlMs)
    const tags = checkTags(options?.tags)
    const { loads } = this.#engine
    const timeoutMs = loads.timeoutOf(options, this.#context.getRemainingTimeInMillis?.())
    const refreshing = this.#engine.refresh(this.#context, this.#counters)
    if (refreshing !== undefined) await refreshing
    const bypassed = this.bypassed
    if (bypassed) this.#counters.bypassed++
    else {
      const hit = this.#lookup<T>(key)
      if (hit !== undefined) return hit.value
    }
    const caller = {
      key,
      counters: this.#counters,
      bypassed,
      bypassing: this.#bypassing,
      timeoutMs,
      tags,
    }
    return loads.join<T>(caller) ?? loads.start({ ...caller, loader, ttlMs: options?.ttlMs })
  }

  async getOrLoadMany<T>(
    keys: readonly string[],
    loadMany: (missing: string[]) => Promise<Entries<T>> | Entries<T>,
    options?: LoadOptions,
  ): Promise<Map<string, T>> {
    const unique = [...new Set(keys)]
    for (const key of unique) checkKey(key)
    checkTtlMs(options?.ttlMs)
    const tags = checkTags(options?.tags)
    const { loads } = this.#engine
    const timeoutMs = loads.timeoutOf(options, this.#context.getRemainingTimeInMillis?.())
    const refreshing = this.#engine.refresh(this.#context, this.#counters)
    if (refreshing !== undefined) await refreshing
    const bypassed = this.bypassed
    if (bypassed) this.#counters.bypassed += unique.length
    const found = new Map<string, T>()
    const pending: [string, Promise<T>][] = []
    const missing: string[] = []
    const request = {
      counters: this.#counters,
      bypassed,
      bypassing: this.#bypassing,
      ttlMs: options?.ttlMs,
      timeoutMs,
      tags,
    }
    for (const key of unique) {
      const hit = bypassed ? undefined : this.#lookup<T>(key)
      if (hit !== undefined) {
        // A cached "not found" is absent from the result, as on the call that loaded it.
        if (hit.value !== undefined && hit.value !== null) found.set(key, hit.value)
        continue
      }
      const joined = loads.join<T>({ ...request, key })
      if (joined !== undefined) pending.push([key, joined])
      else missing.push(key)
    }
    if (missing.length > 0) {
      // One call for every missing key, started by the first key's load; each key still has
      // a load (and a lease) of its own, so joining and the fill guard work per key.
      let batch: Promise<Map<string, T>> | undefined
      const loadBatch = () => {
        batch ??= Promise.resolve()
          .then(() => loadMany(missing))
          .then((entries) => new Map(pairsOf(entries)))
        return batch
      }
      for (const key of missing) {
        const loader = () => loadBatch().then((loaded) => loaded.get(key) as T)
        pending.push([key, loads.start({ ...request, key, loader })])
      }
    }
    const values = await Promise.all(pending.map(([, promise]) => promise))
    pending.forEach(([key], index) => {
      const value = values[index]
      if (value !== undefined && value !== null) found.set(key, value)
    })
    return found
  }

  invalidate(keys: string | readonly string[]): Promise<void> {
    return this.#publishAndEvict({ keys: toArray(keys), prefixes: [], all: false })
  }

  evict(keys: string | readonly string[]): number {
    const list = toArray(keys)
    for (const key of list) checkKey(key)
    return this.#engine.apply({ keys: list, prefixes: [], all: false }, this.#counters)
  }

  invalidatePrefix(prefixes: string | readonly string[]): Promise<void> {
    return this.#publishAndEvict({ keys: [], prefixes: toArray(prefixes), all: false })
  }

  invalidateTags(tags: string | readonly string[]): Promise<void> {
    const list = checkEach('tag', toArray(tags), tagProblem)
    return this.#publishAndEvict({ keys: [], prefixes: [], all: false, tags: list })
  }

  invalidatePattern(patterns: string | readonly string[]): Promise<void> {
    const list = checkEach('pattern', toArray(patterns), patternProblem)
    return this.#publishAndEvict({ keys: [], prefixes: [], all: false, patterns: list })
  }

  invalidateAll(): Promise<void> {
    return this.#publishAndEvict({ keys: [], prefixes: [], all: true })
  }

  /** Revokes the leases of loads of `keys`: a newer value was written. */
  #supersede(keys: readonly string[]): void {
    this.#engine.cache.revokeLeases({ keys, prefixes: [], all: false })
    this.#engine.loads.prune()
  }

  async #publishAndEvict(invalidation: Invalidation): Promise<void> {
    this.#engine.apply(invalidation, this.#counters)
    // Never past the invocation: a publish cut off by the function's timeout would be lost
    // without an error the handler could answer (a 5xx, a retry).
    const remaining = this.#context.getRemainingTimeInMillis?.()
    const timeoutMs =
      remaining === undefined ? undefined : Math.max(1, remaining - PUBLISH_MARGIN_MS)
    await this.#engine.publish(invalidation, timeoutMs)
  }

  /** A read from the store, counted as a hit (crediting the entry's cost) or a miss. */
  #lookup<T>(key: string, now?: number): CacheHit<T> | undefined {
    const hit = this.#engine.cache.get<T>(key, now)
    if (hit === undefined) this.#counters.misses++
    else {
      this.#counters.hits++
      this.#counters.savedMs += hit.costMs
    }
    return hit
  }
}
