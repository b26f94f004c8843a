import { keyspaceOf } from '../cache/index.js'

export interface LoadRateOptions {
  /** Loads let through per second, on average: the rate tokens come back at. */
  readonly perSecond: number
  /** Loads let through at once from a full bucket (a cold container's first burst). */
  readonly burst: number
}

/**
 * Most buckets kept. A full bucket is the default state and is not kept; past this many, the
 * oldest is forgotten (it starts full again), which at worst lets one more burst through: a
 * bound on memory however many keyspaces come and go.
 */
export const MAX_BUCKETS = 1_000

interface Bucket {
  tokens: number
  /** When `tokens` was last brought up to date, ms (the injected clock). */
  at: number
}

/**
 * Token buckets that bound how fast a container starts loads, per keyspace, so that a fleet of
 * cold containers does not stampede its database: each bucket holds up to `burst` tokens and
 * gains `perSecond` a second; a load takes one, and with none left it is refused. Time is the
 * injected clock, read when a load asks: no timer runs. A clock that steps back adds nothing.
 */
export class LoadRateLimiter {
  readonly #limits: ReadonlyMap<string, LoadRateOptions>
  readonly #fallback: LoadRateOptions | undefined
  readonly #now: () => number
  readonly #buckets = new Map<string, Bucket>()

  /**
   * `limits` by keyspace (`''` for keys without one); `fallback` for keyspaces not named there
   * (none: not limited).
   */
  constructor(
    limits: ReadonlyMap<string, LoadRateOptions>,
    fallback: LoadRateOptions | undefined,
    now: () => number,
  ) {
    this.#limits = limits
    this.#fallback = fallback
    this.#now = now
  }

  /** The keyspace whose bucket `key`'s loads draw on. */
  keyspaceOf(key: string): string {
    return keyspaceOf(key) ?? ''
  }

  #limitOf(keyspace: string): LoadRateOptions | undefined {
    return this.#limits.get(keyspace) ?? this.#fallback
  }

  /**
   * Takes a token for a load of `key`: 0 when it may run (or its keyspace is not limited),
   * otherwise how long until a token is back, ms (the load is refused).
   */
  take(key: string): number {
    const keyspace = this.keyspaceOf(key)
    const limit = this.#limitOf(keyspace)
    if (limit === undefined) return 0
    const now = this.#now()
    const bucket = this.#refilled(keyspace, limit, now)
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1
      this.#keep(keyspace, bucket, limit)
      return 0
    }
    this.#keep(keyspace, bucket, limit)
    // Less a hair, so that floating-point dust does not round a whole millisecond up.
    return Math.max(1, Math.ceil(((1 - bucket.tokens) * 1_000) / limit.perSecond - 1e-9))
  }

  /** Buckets kept: those not full, at most `MAX_BUCKETS`. */
  get size(): number {
    return this.#buckets.size
  }

  #refilled(keyspace: string, limit: LoadRateOptions, now: number): Bucket {
    const bucket = this.#buckets.get(keyspace)
    if (bucket === undefined) return { tokens: limit.burst, at: now }
    // A step back of the clock neither adds tokens nor takes them.
    const elapsedMs = Math.max(0, now - bucket.at)
    bucket.tokens = Math.min(limit.burst, bucket.tokens + (elapsedMs * limit.perSecond) / 1_000)
    bucket.at = Math.max(bucket.at, now)
    return bucket
  }

  #keep(keyspace: string, bucket: Bucket, limit: LoadRateOptions): void {
    if (bucket.tokens >= limit.burst) {
      // Full: the default state, which needs no entry.
      this.#buckets.delete(keyspace)
      return
    }
    if (!this.#buckets.has(keyspace) && this.#buckets.size >= MAX_BUCKETS) {
      const oldest = this.#buckets.keys().next().value
      if (oldest !== undefined) this.#buckets.delete(oldest)
    }
    this.#buckets.set(keyspace, bucket)
  }
}
