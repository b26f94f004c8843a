import { performance } from 'node:perf_hooks'
import { type Cache, checkTags, type Lease } from '../cache/index.js'
import {
  CircuitOpenError,
  InvalidKeyError,
  LoadRateLimitedError,
  LoadTimeoutError,
  redactKey,
} from '../errors.js'
import { recordLimits } from '../record/index.js'
import { integer } from '../validate.js'
import { CircuitBreaker } from './breaker.js'
import { withDeadline } from './deadline.js'
import type { Counters } from './invocation.js'
import { MAX_LOAD_TIMEOUT_MS, type ResolvedOptions } from './options/index.js'
import { LoadRateLimiter } from './rate-limit.js'
import type { LoadContext, LoadOptions } from './types.js'

/** The loader's context: tags it adds go to its lease, which the fill guard checks. */
class LoadTags implements LoadContext {
  readonly #lease: Lease

  constructor(lease: Lease) {
    this.#lease = lease
  }

  tag(...tags: string[]): void {
    const checked = checkTags(tags)
    if (checked === undefined) return
    const count = new Set([...(this.#lease.tags ?? []), ...checked]).size
    if (count > recordLimits.maxTagsPerEntry)
      throw new InvalidKeyError(
        `an entry may have at most ${recordLimits.maxTagsPerEntry} tags (got ${count})`,
      )
    this.#lease.tag(checked)
  }
}

interface Load {
  /** The loader's own outcome, not bounded by its starter's deadline: what joiners wait for. */
  readonly loaded: Promise<unknown>
  readonly lease: Lease
  /** The starter's counters: a load given up counts once per invocation. */
  readonly counters: Counters
}

/** A caller waiting for a key's value, started or joined: what `Loads.join` needs of it. */
export interface LoadCaller {
  readonly key: string
  /** The caller's invocation's: its timeouts and stale-if-error answers count here. */
  readonly counters: Counters
  /** The cache was bypassed when the call started: the value is returned but not stored. */
  readonly bypassed: boolean
  /**
   * Whether the cache is bypassed now: asked again when a stale value would be served, since a
   * load may outlive the staleness bound it started within.
   */
  readonly bypassing: () => boolean
  readonly timeoutMs: number
  /** Tags of the entry, checked (`checkTags`); the loader may add more. */
  readonly tags?: readonly string[] | undefined
}

/** One load to run: what `getOrLoad` and `getOrLoadMany` hand to `Loads.start`. */
export interface LoadRequest<T> extends LoadCaller {
  readonly loader: (load: LoadContext) => T | Promise<T>
  readonly ttlMs: number | undefined
}

type LoadsOptions = Pick<
  ResolvedOptions,
  'circuitBreaker' | 'loadTimeoutMs' | 'now' | 'redactKeys' | 'staleIfErrorMs' | 'loadRates'
>

/**
 * What happens when a value has to come from the source:
 * - single flight: concurrent callers for one key share one load, while its lease is valid,
 *   whether they are in one invocation or in several at once (Lambda Managed Instances); each
 *   caller waits within its own deadline and falls back to stale-if-error by its own
 *   invocation's freshness, so an invocation near its end does not cut short another's wait;
 * - the fill guard: each load holds a lease, revoked by any invalidation covering its key, and a
 *   value whose lease was revoked is returned to its callers but never stored;
 * - deadlines: a load slower than its timeout rejects with `LoadTimeoutError`; its late value is
 *   not stored, and nobody joins it any more;
 * - the circuit breaker: a source that keeps failing is refused at once (`CircuitOpenError`);
 * - the load rate limit: past its keyspace's token bucket, a load is refused at once
 *   (`LoadRateLimitedError`); a caller joining a load in flight takes no token;
 * - stale-if-error: a failed, timed-out or refused load falls back to the key's expired value.
 */
export class Loads {
  readonly #cache: Cache
  readonly #options: LoadsOptions
  readonly #breaker: CircuitBreaker | undefined
  readonly #rate: LoadRateLimiter | undefined
  readonly #inflight = new Map<string, Load>()

  constructor(cache: Cache, options: LoadsOptions) {
    this.#cache = cache
    this.#options = options
    this.#breaker =
      options.circuitBreaker === undefined
        ? undefined
        : new CircuitBreaker(options.circuitBreaker, options.now)
    const rates = options.loadRates
    this.#rate =
      rates.byKeyspace.size === 0 && rates.default === undefined
        ? undefined
        : new LoadRateLimiter(rates.byKeyspace, rates.default, options.now)
  }

  /**
   * Joins the load of `key` in flight, unless an invalidation overtook it (or none runs):
   * the caller gets its value, or its error, within the caller's own `timeoutMs`.
   */
  join<T>(caller: LoadCaller): Promise<T> | undefined {
    const inflight = this.#inflight.get(caller.key)
    if (inflight === undefined || !inflight.lease.valid) return undefined
    const { counters, timeoutMs } = caller
    return withDeadline(inflight.loaded as Promise<T>, timeoutMs, () => {
      // In the starter's invocation, the starter counts it.
      if (counters !== inflight.counters) counters.loadTimeouts++
      return new LoadTimeoutError(this.#shown(caller.key), timeoutMs)
    }).catch((error: unknown) => this.#fallBack(caller, error))
  }

  /** Forgets loads whose lease an invalidation revoked: later callers must not join them. */
  prune(): void {
    for (const [key, load] of this.#inflight) if (!load.lease.valid) this.#inflight.delete(key)
  }

  clear(): void {
    this.#inflight.clear()
  }

  /**
   * The deadline of one call: its own `timeoutMs`, else the `loadTimeoutMs` option, and never
   * past the invocation's end (`remainingMs`), so that a load which never settles cannot wedge
   * the key (later callers would join it) or its circuit (a probe that never reports).
   */
  timeoutOf(options: LoadOptions | undefined, remainingMs: number | undefined): number {
    const given =
      options?.timeoutMs === undefined
        ? this.#options.loadTimeoutMs
        : integer('timeoutMs', options.timeoutMs, 1, MAX_LOAD_TIMEOUT_MS)
    return remainingMs === undefined ? given : Math.max(1, Math.min(given, remainingMs))
  }

  /** Starts a load of `key`, registered so that later callers join it. */
  start<T>(request: LoadRequest<T>): Promise<T> {
    const { key, loader, counters, bypassed, ttlMs, timeoutMs, tags } = request
    const rate = this.#rate
    const retryInMs = rate === undefined ? 0 : rate.take(key)
    if (rate !== undefined && retryInMs > 0) {
      // Over the keyspace's rate: refused before the breaker, so it takes no probe's place.
      counters.loadRateLimited++
      return this.#fallBack(
        request,
        new LoadRateLimitedError(key, rate.keyspaceOf(key), retryInMs, this.#options.redactKeys),
      )
    }
    const breaker = this.#breaker
    const permit = breaker?.admit(key)
    if (breaker !== undefined && permit === undefined) {
      // The source keeps failing: refuse at once rather than add to its load.
      counters.circuitOpen++
      const circuit = breaker.circuitOf(key)
      return this.#fallBack(
        request,
        new CircuitOpenError(key, circuit, breaker.retryInMs(key), this.#options.redactKeys),
      )
    }
    const cache = this.#cache
    const lease = cache.acquireLease(key, tags)
    const started = performance.now()
    const loaded = (async () => {
      try {
        // Called through an async function: a loader that throws synchronously then settles
        // after this load is registered below, and its `finally` unregisters it.
        const value = await (async () => loader(new LoadTags(lease)))()
        const costMs = performance.now() - started
        counters.loads++
        counters.loadMs += costMs
        if (!bypassed) {
          const stored = lease.tags
          cache.set(
            key,
            value,
            {
              costMs,
              ...(ttlMs === undefined ? {} : { ttlMs }),
              ...(stored === undefined ? {} : { tags: stored }),
            },
            lease,
          )
        }
        return value
      } finally {
        cache.releaseLease(lease)
        if (this.#inflight.get(key)?.lease === lease) this.#inflight.delete(key)
      }
    })()
    const bounded = withDeadline(loaded, timeoutMs, () => {
      // Given up: a late value is not stored, and nobody joins the load any more.
      lease.valid = false
      cache.releaseLease(lease)
      if (this.#inflight.get(key)?.lease === lease) this.#inflight.delete(key)
      counters.loadTimeouts++
      return new LoadTimeoutError(this.#shown(key), timeoutMs)
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
    this.#inflight.set(key, { loaded, lease, counters })
    return reported.catch((error: unknown) => this.#fallBack(request, error))
  }

  /**
   * Stale-if-error: a load that failed, timed out or was refused by the breaker falls back to the
   * key's expired value, kept `staleIfErrorMs` past its TTL. An invalidated value is gone, so it
   * is never served, and nothing is served from a cache that is bypassed, when the load started
   * or now that it failed: the staleness bound is checked when a value is served.
   */
  async #fallBack<T>(request: LoadCaller, error: unknown): Promise<T> {
    const stale =
      this.#options.staleIfErrorMs === 0 || request.bypassed || request.bypassing()
        ? undefined
        : this.#cache.getStale<T>(request.key)
    if (stale === undefined) throw error
    request.counters.staleIfError++
    return stale.value
  }

  /** A key as errors and logs may show it: hashed with `redactKeys`. */
  #shown(key: string): string {
    return this.#options.redactKeys ? redactKey(key) : key
  }
}
