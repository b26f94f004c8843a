import { type Cache, type CacheHit, checkKey, type SetOptions } from '../cache/index.js'
import { toArray } from '../publish/index.js'
import type { Invalidation } from '../record/index.js'
import { type Entries, pairsOf } from './entries.js'
import type { Freshness } from './freshness.js'
import type { Counters } from './invocation.js'
import type { Loads } from './loads.js'
import type { CacheStats, LoadOptions, RequestCache } from './types.js'

/** The container's parts a request cache works with: one per container, shared by invocations. */
export interface Engine {
  readonly cache: Cache
  readonly loads: Loads
  readonly freshness: Freshness
  readonly now: () => number
  /** Evicts what `invalidation` covers, counted in `counters`; returns how many. */
  apply(invalidation: Invalidation, counters: Counters): number
  /** Publishes an invalidation to every container; resolves once acknowledged. */
  publish(invalidation: Invalidation): Promise<void>
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

  constructor(engine: Engine, counters: Counters, deferred: boolean) {
    this.#engine = engine
    this.#counters = counters
    this.#deferred = deferred
  }

  get bypassed(): boolean {
    return this.#engine.freshness.bypassing(this.#deferred)
  }

  stats(): CacheStats {
    return this.#engine.stats()
  }

  get<T = unknown>(key: string): T | undefined {
    // The hot path of a hit: one clock read serves the staleness bound and the entry's TTL.
    const now = this.#engine.now()
    if (this.#engine.freshness.bypassing(this.#deferred, now)) {
      this.#counters.bypassed++
      return undefined
    }
    return this.#lookup<T>(key, now)?.value
  }

  set(key: string, value: unknown, options?: SetOptions): boolean {
    return this.bypassed ? false : this.#engine.cache.set(key, value, options)
  }

  getMany<T = unknown>(keys: readonly string[]): Map<string, T> {
    const found = new Map<string, T>()
    if (this.bypassed) {
      this.#counters.bypassed += keys.length
      return found
    }
    for (const key of keys) {
      const hit = this.#lookup<T>(key)
      if (hit !== undefined) found.set(key, hit.value)
    }
    return found
  }

  setMany(entries: Entries, options?: SetOptions): number {
    if (this.bypassed) return 0
    let stored = 0
    for (const [key, value] of pairsOf(entries))
      if (this.#engine.cache.set(key, value, options)) stored++
    return stored
  }

  async getOrLoad<T>(key: string, loader: () => T | Promise<T>, options?: LoadOptions): Promise<T> {
    checkKey(key)
    const { loads } = this.#engine
    const timeoutMs = loads.timeoutOf(options)
    const bypassed = this.bypassed
    if (bypassed) this.#counters.bypassed++
    else {
      const hit = this.#lookup<T>(key)
      if (hit !== undefined) return hit.value
    }
    const joined = loads.joinable<T>(key)
    if (joined !== undefined) return joined
    const counters = this.#counters
    return loads.start({ key, loader, counters, bypassed, ttlMs: options?.ttlMs, timeoutMs })
  }

  async getOrLoadMany<T>(
    keys: readonly string[],
    loadMany: (missing: string[]) => Promise<Entries<T>> | Entries<T>,
    options?: LoadOptions,
  ): Promise<Map<string, T>> {
    const unique = [...new Set(keys)]
    for (const key of unique) checkKey(key)
    const { loads } = this.#engine
    const timeoutMs = loads.timeoutOf(options)
    const bypassed = this.bypassed
    if (bypassed) this.#counters.bypassed += unique.length
    const found = new Map<string, T>()
    const pending: [string, Promise<T>][] = []
    const missing: string[] = []
    for (const key of unique) {
      const hit = bypassed ? undefined : this.#lookup<T>(key)
      if (hit !== undefined) {
        found.set(key, hit.value)
        continue
      }
      const joined = loads.joinable<T>(key)
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
      const counters = this.#counters
      const ttlMs = options?.ttlMs
      for (const key of missing) {
        const loader = () => loadBatch().then((loaded) => loaded.get(key) as T)
        pending.push([key, loads.start({ key, loader, counters, bypassed, ttlMs, timeoutMs })])
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

  invalidateAll(): Promise<void> {
    return this.#publishAndEvict({ keys: [], prefixes: [], all: true })
  }

  async #publishAndEvict(invalidation: Invalidation): Promise<void> {
    this.#engine.apply(invalidation, this.#counters)
    await this.#engine.publish(invalidation)
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
