import { performance } from 'node:perf_hooks'
import type { Cache, Lease } from '../cache/index.js'
import { CircuitOpenError, LoadTimeoutError, redactKey } from '../errors.js'
import { integer } from '../validate.js'
import { CircuitBreaker } from './breaker.js'
import type { Counters } from './invocation.js'
import { MAX_LOAD_TIMEOUT_MS, type ResolvedOptions } from './options/index.js'
import type { LoadOptions } from './types.js'

interface Load {
  readonly promise: Promise<unknown>
  readonly lease: Lease
}

/** One load to run: what `getOrLoad` and `getOrLoadMany` hand to `Loads.start`. */
export interface LoadRequest<T> {
  readonly key: string
  readonly loader: () => T | Promise<T>
  readonly counters: Counters
  /** The cache is bypassed: the value is returned but not stored, and nothing stale is served. */
  readonly bypassed: boolean
  readonly ttlMs: number | undefined
  readonly timeoutMs: number | undefined
}

type LoadsOptions = Pick<
  ResolvedOptions,
  'circuitBreaker' | 'loadTimeoutMs' | 'now' | 'redactKeys' | 'staleIfErrorMs'
>

/**
 * What happens when a value has to come from the source:
 * - single flight: concurrent callers for one key share one load, while its lease is valid;
 * - the fill guard: each load holds a lease, revoked by any invalidation covering its key, and a
 *   value whose lease was revoked is returned to its callers but never stored;
 * - deadlines: a load slower than its timeout rejects with `LoadTimeoutError`; its late value is
 *   not stored, and nobody joins it any more;
 * - the circuit breaker: a source that keeps failing is refused at once (`CircuitOpenError`);
 * - stale-if-error: a failed, timed-out or refused load falls back to the key's expired value.
 */
export class Loads {
  readonly #cache: Cache
  readonly #options: LoadsOptions
  readonly #breaker: CircuitBreaker | undefined
  readonly #inflight = new Map<string, Load>()

  constructor(cache: Cache, options: LoadsOptions) {
    this.#cache = cache
    this.#options = options
    this.#breaker =
      options.circuitBreaker === undefined
        ? undefined
        : new CircuitBreaker(options.circuitBreaker, options.now)
  }

  /** The load of `key` a caller may join: in flight, and not overtaken by an invalidation. */
  joinable<T>(key: string): Promise<T> | undefined {
    const inflight = this.#inflight.get(key)
    return inflight?.lease.valid ? (inflight.promise as Promise<T>) : undefined
  }

  /** Forgets loads whose lease an invalidation revoked: later callers must not join them. */
  prune(): void {
    for (const [key, load] of this.#inflight) if (!load.lease.valid) this.#inflight.delete(key)
  }

  clear(): void {
    this.#inflight.clear()
  }

  /** The deadline of one call: its own `timeoutMs`, else the `loadTimeoutMs` option. */
  timeoutOf(options: LoadOptions | undefined): number | undefined {
    return options?.timeoutMs === undefined
      ? this.#options.loadTimeoutMs
      : integer('timeoutMs', options.timeoutMs, 1, MAX_LOAD_TIMEOUT_MS)
  }

  /** Starts a load of `key`, registered so that later callers join it. */
  start<T>({ key, loader, counters, bypassed, ttlMs, timeoutMs }: LoadRequest<T>): Promise<T> {
    const breaker = this.#breaker
    const permit = breaker?.admit(key)
    if (breaker !== undefined && permit === undefined) {
      // The source keeps failing: refuse at once rather than add to its load.
      counters.circuitOpen++
      const circuit = breaker.circuitOf(key)
      return this.#fallBack(
        key,
        bypassed,
        counters,
        new CircuitOpenError(this.#shown(key), circuit, breaker.retryInMs(key)),
      )
    }
    const cache = this.#cache
    const lease = cache.acquireLease(key)
    const started = performance.now()
    const loaded = (async () => {
      try {
        // Called through an async function: a loader that throws synchronously then settles
        // after this load is registered below, and its `finally` unregisters it.
        const value = await (async () => loader())()
        const costMs = performance.now() - started
        counters.loads++
        counters.loadMs += costMs
        if (!bypassed)
          cache.set(key, value, { costMs, ...(ttlMs === undefined ? {} : { ttlMs }) }, lease)
        return value
      } finally {
        cache.releaseLease(lease)
        if (this.#inflight.get(key)?.lease === lease) this.#inflight.delete(key)
      }
    })()
    const bounded =
      timeoutMs === undefined
        ? loaded
        : new Promise<T>((resolve, reject) => {
            const timer = setTimeout(() => {
              // Given up: a late value is not stored, and nobody joins the load any more.
              lease.valid = false
              cache.releaseLease(lease)
              if (this.#inflight.get(key)?.lease === lease) this.#inflight.delete(key)
              counters.loadTimeouts++
              reject(new LoadTimeoutError(this.#shown(key), timeoutMs))
            }, timeoutMs)
            loaded.then(
              (value) => {
                clearTimeout(timer)
                resolve(value)
              },
              (error: unknown) => {
                clearTimeout(timer)
                reject(error)
              },
            )
          })
    // The breaker hears each load's outcome once: a timeout is a failure even if a value comes.
    const reported =
      breaker === undefined || permit === undefined
        ? bounded
        : bounded.then(
            (value) => {
              breaker.succeeded(permit)
              return value
            },
            (error: unknown) => {
              breaker.failed(permit)
              throw error
            },
          )
    const promise = reported.catch((error: unknown) =>
      this.#fallBack<T>(key, bypassed, counters, error),
    )
    this.#inflight.set(key, { promise, lease })
    return promise
  }

  /**
   * Stale-if-error: a load that failed, timed out or was refused by the breaker falls back to the
   * key's expired value, kept `staleIfErrorMs` past its TTL. An invalidated value is gone, so it
   * is never served, and nothing is served from a cache that is bypassed. Else, the error.
   */
  async #fallBack<T>(key: string, bypassed: boolean, counters: Counters, error: unknown) {
    const stale =
      this.#options.staleIfErrorMs === 0 || bypassed ? undefined : this.#cache.getStale<T>(key)
    if (stale === undefined) throw error
    counters.staleIfError++
    return stale.value
  }

  /** A key as errors and logs may show it: hashed with `redactKeys`. */
  #shown(key: string): string {
    return this.#options.redactKeys ? redactKey(key) : key
  }
}
