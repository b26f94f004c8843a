import type { SetOptions } from '../cache/index.js'
import type { SourcePollResult, SourcePosition } from '../source/index.js'
import type { ClearReason, InvocationLog } from '../telemetry/index.js'
import type { Entries } from './entries.js'

/** The cache as a handler sees it during one invocation (`context.cache` under Middy). */
export interface RequestCache {
  /** The cached value, or undefined on a miss (also when the cache is bypassed). */
  get<T = unknown>(key: string): T | undefined
  /**
   * Stores a value with a TTL drawn from its keyspace's range; `costMs` is credited as time saved
   * on every later hit. Returns false when not stored (bypassed, or larger than the byte budget).
   */
  set(key: string, value: unknown, options?: SetOptions): boolean
  /**
   * The cached value, else the loader's, stored with the load's duration as its cost. Concurrent
   * calls for one key share one load. A value whose key was invalidated while it loaded is
   * returned to this caller but not stored. A load slower than `timeoutMs` (default
   * `loadTimeoutMs`) rejects with `LoadTimeoutError`; its value, if it ever comes, is not stored,
   * and later callers start a load of their own instead of joining it. The value is stored with
   * `options.tags` and any tags the loader adds (`load.tag(...)`, for what it learns while
   * loading); an invalidation of any of them during the load keeps it from being stored.
   */
  getOrLoad<T>(
    key: string,
    loader: (load: LoadContext) => T | Promise<T>,
    options?: LoadOptions,
  ): Promise<T>
  /** The cached values of `keys` (hits only: a key absent from the map missed). */
  getMany<T = unknown>(keys: readonly string[]): Map<string, T>
  /** Stores several values as `set` does; returns how many were stored. */
  setMany(entries: Entries, options?: SetOptions): number
  /**
   * The cached values of `keys`, loading every missing one in a single call of `loadMany` (a
   * DynamoDB BatchGetItem, an SQL `IN`). Keys already loading are joined, each loaded key is
   * guarded as `getOrLoad` guards it, and a key `loadMany` leaves out is "not found" (cached with
   * `negativeTtl`, and absent from the result).
   */
  getOrLoadMany<T>(
    keys: readonly string[],
    loadMany: (missing: string[]) => Promise<Entries<T>> | Entries<T>,
    options?: LoadOptions,
  ): Promise<Map<string, T>>
  /** Evicts the keys here at once, then publishes the invalidation; resolves once Kinesis acknowledged it. */
  invalidate(keys: string | readonly string[]): Promise<void>
  /**
   * Evicts the keys here only, publishing nothing: for writes other containers learn of another
   * way, such as the table's own change records on the stream (`dynamoDbDecoder`). Loads of these
   * keys in flight are not stored. Returns how many entries were evicted.
   */
  evict(keys: string | readonly string[]): number
  /** Evicts every key starting with a prefix, here and, once published, everywhere. */
  invalidatePrefix(prefixes: string | readonly string[]): Promise<void>
  /**
   * Evicts every entry stored with one of these tags, here and, once published, everywhere
   * (a version 3 record: readers that do not know it evict everything).
   */
  invalidateTags(tags: string | readonly string[]): Promise<void>
  /**
   * Evicts every key matching a pattern (`*` within one `:`-separated segment:
   * `users:*:profile`), here and, once published, everywhere.
   */
  invalidatePattern(patterns: string | readonly string[]): Promise<void>
  /** Evicts everything, here and, once published, everywhere. */
  invalidateAll(): Promise<void>
  /**
   * What `key` holds, without counting a hit or a miss: for HTTP caching (`httpCaching`).
   * Undefined when absent, expired, or the cache is bypassed.
   */
  entry<T = unknown>(key: string): CachedEntry<T> | undefined
  /** The container's totals since its cold start, and the state of its cache and stream. */
  stats(): CacheStats
  /** True when this invocation does not use the cache (stream too stale to trust). */
  readonly bypassed: boolean
}

/** A cached value and how long it may be served: `RequestCache.entry`. */
export interface CachedEntry<T = unknown> {
  readonly value: T
  /** When its TTL ends, ms since the epoch. */
  readonly expiresAt: number
  /**
   * When the cache stops serving anything unless a poll succeeds first (`maxStalenessMs` after
   * what it last knew of the stream), ms since the epoch: no copy should outlive it.
   */
  readonly trustedUntil: number
  /** The cache's clock when the entry was read, ms since the epoch. */
  readonly now: number
}

/** A container's totals since its cold start, and the state of its cache and stream now. */
export interface CacheStats {
  readonly invocations: number
  readonly hits: number
  readonly misses: number
  /** hits / (hits + misses); 0 before any read. */
  readonly hitRatio: number
  readonly bypassed: number
  readonly loads: number
  readonly loadMs: number
  /** Time the hits saved (their recorded load costs) and time spent on the stream. */
  readonly savedMs: number
  readonly streamMs: number
  readonly polls: number
  readonly failedPolls: number
  readonly records: number
  readonly skippedRecords: number
  readonly evicted: number
  /** Times the cache was emptied, by reason. */
  readonly clears: Readonly<Partial<Record<ClearReason, number>>>
  readonly entries: number
  readonly bytes: number
  /** Since the last poll started (undefined before the first). */
  readonly lastPollAgeMs: number | undefined
  /** Age of what the cache knows of the stream: since the last successful poll or skip. */
  readonly stalenessMs: number
  /** The cache is bypassed right now (stale past `maxStalenessMs`, or a failed poll with `'bypass'`). */
  readonly bypassing: boolean
  /** Set while failed polls back off. */
  readonly backoffMs: number | undefined
  /**
   * How the last poll went: `ok`; `failing` (an outage: throttled, 5xx, timeouts); or
   * `misconfigured` (polls in a row refused for a reason no retry fixes: no such stream, access
   * denied, no region or credentials), which is also logged at ERROR once per container.
   */
  readonly streamState: 'ok' | 'failing' | 'misconfigured'
  /** The error behind a `streamState` other than `ok`, as `Name: message`. */
  readonly streamProblem?: string
}

/** `stats()` plus what a health endpoint wants to show: the stream and every shard's position. */
export interface Diagnostics extends CacheStats {
  readonly stream: string
  readonly streams: readonly string[]
  readonly pollIntervalMs: number
  readonly maxStalenessMs: number
  readonly positions: readonly SourcePosition[]
}

/** What a loader is given: a way to attach what it learns about its value. */
export interface LoadContext {
  /**
   * Adds tags to the entry being loaded (at most 128 in all, each 1 to 256 characters): a list
   * that learns which users it holds tags itself with each. If one of them was invalidated since
   * the load began, the value is returned but not stored.
   */
  tag(...tags: string[]): void
}

/** Options of one `getOrLoad` call. */
export interface LoadOptions {
  /** TTL of the loaded value, ms, instead of one drawn from its keyspace's range. */
  readonly ttlMs?: number
  /**
   * Tags of the loaded entry (surrogate keys, see `invalidateTags`). A caller that joins a load
   * already running gets that load's tags.
   */
  readonly tags?: readonly string[]
  /** Most time the load may take, ms. Default: the `loadTimeoutMs` option (none unless set). */
  readonly timeoutMs?: number
}

/** The parts of a Lambda context scache uses. */
export interface InvocationContext {
  readonly awsRequestId?: string
  getRemainingTimeInMillis?(): number
}

/** One invocation's use of the cache, from the poll in `begin` to the log line in `end`. */
export interface Invocation {
  readonly cache: RequestCache
  /**
   * The poll this invocation ran when it began; undefined when none was due, the poll was
   * skipped, or it joined one another invocation was running.
   */
  readonly poll: SourcePollResult | undefined
  /** Writes the invocation's log line and returns it. Call exactly once. */
  end(options?: { readonly error?: boolean }): InvocationLog
}
