import { performance } from 'node:perf_hooks'
import type { KinesisClient } from '@aws-sdk/client-kinesis'
import { Cache, type CacheHit, checkKey, type Lease, type SetOptions } from '../cache/index.js'
import { CircuitOpenError, describeError, LoadTimeoutError, redactKey } from '../errors.js'
import { createPublisher, type Publisher, toArray } from '../publish/index.js'
import type { Invalidation } from '../record/index.js'
import {
  createDefaultClient,
  type PollResult,
  type SkippedRecord,
  StreamReader,
} from '../stream/index.js'
import {
  addMetrics,
  type ClearReason,
  type InvocationLog,
  InvocationSpan,
  round,
  toEmf,
  type WarmReport,
} from '../telemetry/index.js'
import { integer } from '../validate.js'
import { CircuitBreaker } from './breaker.js'
import { type Entries, pairsOf } from './entries.js'
import {
  MAX_LOAD_TIMEOUT_MS,
  type ResolvedOptions,
  resolveOptions,
  type ScacheOptions,
} from './options.js'

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
   * and later callers start a load of their own instead of joining it.
   */
  getOrLoad<T>(key: string, loader: () => T | Promise<T>, options?: LoadOptions): Promise<T>
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
  /** Evicts everything, here and, once published, everywhere. */
  invalidateAll(): Promise<void>
  /** The container's totals since its cold start, and the state of its cache and stream. */
  stats(): CacheStats
  /** True when this invocation does not use the cache (stream too stale to trust). */
  readonly bypassed: boolean
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
}

/** `stats()` plus what a health endpoint wants to show: the stream and every shard's position. */
export interface Diagnostics extends CacheStats {
  readonly stream: string
  readonly streams: readonly string[]
  readonly pollIntervalMs: number
  readonly maxStalenessMs: number
  readonly positions: readonly { shardId: string; sequenceNumber?: string; finished: boolean }[]
}

interface Totals {
  invocations: number
  hits: number
  misses: number
  bypassed: number
  loads: number
  loadMs: number
  savedMs: number
  streamMs: number
  polls: number
  failedPolls: number
  records: number
  skippedRecords: number
  evicted: number
  clears: Partial<Record<ClearReason, number>>
}

/** Options of one `getOrLoad` call. */
export interface LoadOptions {
  /** TTL of the loaded value, ms, instead of one drawn from its keyspace's range. */
  readonly ttlMs?: number
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
  /** The poll made (or skipped) when the invocation began. */
  readonly poll: PollResult | undefined
  /** Writes the invocation's log line and returns it. Call exactly once. */
  end(options?: { readonly error?: boolean }): InvocationLog
}

interface Load {
  readonly promise: Promise<unknown>
  readonly lease: Lease
}

interface Counters {
  hits: number
  misses: number
  bypassed: number
  savedMs: number
  loads: number
  loadMs: number
  loadTimeouts: number
  staleIfError: number
  circuitOpen: number
  evicted: number
  cleared: ClearReason | undefined
}

const IS_BYPASSED = Symbol('isBypassed')

/**
 * `bypassed` is a getter on this shared prototype, not in each RequestCache's literal: a getter in
 * a literal is a new function per object, which leaves every RequestCache in dictionary mode and
 * costs each `cache.get` a hash lookup, a sixth of a hit.
 */
const requestCachePrototype = {
  get bypassed(): boolean {
    return (this as unknown as Bypassable)[IS_BYPASSED]()
  },
}

interface Bypassable {
  readonly [IS_BYPASSED]: () => boolean
}

const newCounters = (): Counters => ({
  hits: 0,
  misses: 0,
  bypassed: 0,
  savedMs: 0,
  loads: 0,
  loadMs: 0,
  loadTimeouts: 0,
  staleIfError: 0,
  circuitOpen: 0,
  evicted: 0,
  cleared: undefined,
})

/** Backoff after failed polls: the delay doubles per failure from here (or the poll interval)… */
const MIN_BACKOFF_MS = 100
/** …up to here, or half of `maxStalenessMs` if less (but never below the poll interval). */
const MAX_BACKOFF_MS = 30_000

/**
 * A skipped poll keeps an iterator this young (and at most half `maxStalenessMs`, so that its
 * backlog never counts as far behind): re-reading it is cheaper than a new iterator.
 */
const SKIP_KEEPS_ITERATOR_MS = 60_000
/**
 * Most key-prefix comparisons one poll's prefix invalidations may cost (prefixes × entries);
 * beyond it the cache is cleared instead, which is always safe and bounds the work a writer of
 * many prefixes can cause.
 */
const PREFIX_SCAN_LIMIT = 1_000_000

/**
 * One container's cache and its view of the invalidation stream. Create it once, at module scope;
 * call `begin` before each request and `end` after it. The `scache()` middleware does exactly
 * that; without Middy, call them yourself.
 *
 * Consistency: the cache only holds values loaded after the reader's position, and every poll
 * applies everything written since that position, so an entry is served at most
 * `pollIntervalMs` + poll time + Kinesis' visibility delay after its invalidation was
 * acknowledged, or the cache is bypassed (`maxStalenessMs`, `onStreamError`).
 */
export class Scache {
  readonly cache: Cache
  readonly options: ResolvedOptions
  #reader: StreamReader
  /** The replica this container reads (one of `streamNames`); it moves off one that throttles. */
  #streamName: string
  #publisher: Publisher | undefined
  readonly #loads = new Map<string, Load>()
  /** Start of the last successful poll (or skip): the cache reflects the stream up to here. */
  #syncedAt: number
  #lastPollAt = Number.NEGATIVE_INFINITY
  /** This cycle's poll interval: `pollIntervalMs`, jittered below it. */
  #intervalMs = 0
  /** While backing off, the longer delay before the next poll; 0 otherwise. */
  #backoffMs = 0
  /** Failed polls not yet paid back by successes: each doubles the delay before the next poll. */
  #backoffLevel = 0
  /** The backoff's first delay, its ceiling, and the level that reaches it (no higher is kept). */
  readonly #backoff: { readonly baseMs: number; readonly capMs: number; readonly maxLevel: number }
  #streamHealthy = true
  #polling: Promise<PollResult> | undefined
  readonly #breaker: CircuitBreaker | undefined
  readonly #totals: Totals = {
    invocations: 0,
    hits: 0,
    misses: 0,
    bypassed: 0,
    loads: 0,
    loadMs: 0,
    savedMs: 0,
    streamMs: 0,
    polls: 0,
    failedPolls: 0,
    records: 0,
    skippedRecords: 0,
    evicted: 0,
    clears: {},
  }
  #warming: Promise<WarmReport> | undefined
  /** The warm-up's report went into a log line (the first invocation's). */
  #warmReported = false
  #pollingStartedAt = 0
  readonly #client: KinesisClient

  #newReader(): StreamReader {
    const o = this.options
    return new StreamReader({
      stream: this.#streamName,
      client: this.#client,
      clockSkewMs: o.clockSkewMs,
      decoders: o.decoders,
      secrets: o.secrets,
      maxPagesPerShard: o.maxPagesPerShard,
      // A backlog spanning more than the staleness bound is not worth reading inside a request.
      maxBehindMs: o.maxStalenessMs,
      now: o.now,
    })
  }

  constructor(options: ScacheOptions = {}) {
    this.options = resolveOptions(options)
    const o = this.options
    this.cache = new Cache({
      ttl: o.ttl,
      staleIfErrorMs: o.staleIfErrorMs,
      ...(o.negativeTtl === undefined ? {} : { negativeTtl: o.negativeTtl }),
      maxEntries: o.maxEntries,
      maxBytes: o.maxBytes,
      keyspaces: o.keyspaces,
      ...(o.sizeOf === undefined ? {} : { sizeOf: o.sizeOf }),
      now: o.now,
      random: o.random,
    })
    this.#streamName = o.streamName
    this.#client = o.client ?? createDefaultClient({ maxAttempts: 1 })
    this.#reader = this.#newReader()
    this.#breaker =
      o.circuitBreaker === undefined ? undefined : new CircuitBreaker(o.circuitBreaker, o.now)
    this.#publisher = o.publisher
    this.#syncedAt = this.options.now()
    const baseMs = Math.max(MIN_BACKOFF_MS, o.pollIntervalMs)
    // At least two attempts per staleness window: backing off longer would only keep the cache
    // bypassed after the stream is back, and let entries sit unevicted, for no fewer failures.
    const capMs = Math.max(baseMs, Math.min(MAX_BACKOFF_MS, o.maxStalenessMs / 2))
    this.#backoff = { baseMs, capMs, maxLevel: Math.max(1, Math.ceil(Math.log2(capMs / baseMs))) }
  }

  /** The publisher `invalidate` uses; created on first use so read-only functions never build one. */
  get publisher(): Publisher {
    const { streamName, streamNames } = this.options
    this.#publisher ??= createPublisher({
      // Replicated streams: every container's writes reach every replica.
      ...(streamNames.length > 1 ? { streamNames } : { streamName }),
      redactKeys: this.options.redactKeys,
      ...(this.options.secrets[0] === undefined ? {} : { secret: this.options.secrets[0] }),
      // The client the reads use also knows where the stream is (region, endpoint, credentials).
      ...(this.options.client === undefined ? {} : { client: this.options.client }),
    })
    return this.#publisher
  }

  /**
   * Loads the `warm` keys (once per container; later calls return the same report). `begin`
   * calls it on the first invocation; call it at module scope (top-level `await`) to warm the
   * cache during the Lambda init phase instead. Never rejects: a failure is in the report.
   */
  warm(): Promise<WarmReport> {
    this.#warming ??= this.#warm()
    return this.#warming
  }

  async #warm(): Promise<WarmReport> {
    const warm = this.options.warm
    if (warm === undefined) return { keys: 0, loaded: 0, ms: 0 }
    const started = performance.now()
    let keys = 0
    try {
      const list = typeof warm.keys === 'function' ? await warm.keys() : warm.keys
      keys = list.length
      const loaded = await this.#requestCache(newCounters(), false).getOrLoadMany(
        list,
        warm.load,
        warm.timeoutMs === undefined ? undefined : { timeoutMs: warm.timeoutMs },
      )
      return { keys, loaded: loaded.size, ms: round(performance.now() - started) }
    } catch (error) {
      const { name, message } = describeError(error)
      return {
        keys,
        loaded: 0,
        ms: round(performance.now() - started),
        error: `${name}: ${message}`,
      }
    }
  }

  /** The container's totals since its cold start, and the state of its cache and stream now. */
  stats(): CacheStats {
    const t = this.#totals
    const now = this.options.now()
    const reads = t.hits + t.misses
    return {
      invocations: t.invocations,
      hits: t.hits,
      misses: t.misses,
      hitRatio: reads === 0 ? 0 : t.hits / reads,
      bypassed: t.bypassed,
      loads: t.loads,
      loadMs: round(t.loadMs),
      savedMs: round(t.savedMs),
      streamMs: round(t.streamMs),
      polls: t.polls,
      failedPolls: t.failedPolls,
      records: t.records,
      skippedRecords: t.skippedRecords,
      evicted: t.evicted,
      clears: { ...t.clears },
      entries: this.cache.size,
      bytes: this.cache.bytes,
      lastPollAgeMs:
        this.#lastPollAt === Number.NEGATIVE_INFINITY ? undefined : now - this.#lastPollAt,
      stalenessMs: Math.max(0, now - this.#syncedAt),
      bypassing: this.#bypassing(false),
      backoffMs: this.#backoffMs > 0 ? round(this.#backoffMs) : undefined,
    }
  }

  /** `stats()` with the stream and every shard's position: a snapshot for a health endpoint. */
  diagnostics(): Diagnostics {
    return {
      ...this.stats(),
      stream: this.#streamName,
      streams: this.options.streamNames,
      pollIntervalMs: this.options.pollIntervalMs,
      maxStalenessMs: this.options.maxStalenessMs,
      positions: this.positions(),
    }
  }

  #addToTotals(line: InvocationLog, poll: PollResult | undefined): void {
    const t = this.#totals
    t.invocations++
    t.hits += line.hits
    t.misses += line.misses
    t.bypassed += line.bypassed
    t.loads += line.loads
    t.loadMs += line.loadMs
    t.savedMs += line.savedMs
    t.streamMs += line.streamMs
    t.records += line.records
    t.skippedRecords += line.skippedRecords
    t.evicted += line.evicted
    if (poll !== undefined) {
      t.polls++
      if (!poll.ok && poll.restarted === undefined) t.failedPolls++
    }
    if (line.cleared !== undefined) t.clears[line.cleared] = (t.clears[line.cleared] ?? 0) + 1
  }

  /** Per-shard positions, for diagnostics. */
  positions(): ReturnType<StreamReader['positions']> {
    return this.#reader.positions()
  }

  /**
   * Brings the cache up to date with the stream if a poll is due, and opens an invocation.
   * Never throws for stream trouble: a failed poll is reported in the log line, and reads are
   * bypassed as `onStreamError` and `maxStalenessMs` say.
   */
  async begin(context: InvocationContext = {}): Promise<Invocation> {
    const counters = newCounters()
    const skipped: SkippedRecord[] = []
    const started = performance.now()
    const now = this.options.now()
    // A poll that started before this request may miss what was acknowledged since: wait for it
    // and decide afresh. (Only concurrent callers of `begin` see this; Lambda sends one request
    // at a time.)
    while (this.#polling !== undefined && this.#pollingStartedAt < now) await this.#polling
    let poll: PollResult | undefined
    let pollSkipped = false
    const span =
      this.options.tracer === undefined ? undefined : InvocationSpan.open(this.options.tracer)
    const sinceLastPoll = now - this.#lastPollAt
    // A poll is owed once the interval has passed, but while backing off it is held back longer.
    // A clock that stepped back leaves the elapsed time unknown: poll at once.
    const stepped = sinceLastPoll < 0
    const owed = stepped || sinceLastPoll >= this.#intervalMs
    const due =
      (owed && (stepped || sinceLastPoll >= this.#backoffMs)) || this.#polling !== undefined
    // Before paying for a poll, drop expired entries: a container thawed after its TTLs holds
    // nothing, and nothing needs reading.
    if (due && this.cache.size > 0) this.cache.purgeStale()
    if (this.cache.size === 0 && this.cache.loading === 0 && this.#polling === undefined) {
      // Nothing here can be stale, so nothing needs reading: move to now for free.
      this.#reader.skipToNow(Math.min(SKIP_KEEPS_ITERATOR_MS, this.options.maxStalenessMs / 2))
      this.#syncedAt = now
      this.#streamHealthy = true
      pollSkipped = true
    } else if (due) {
      poll =
        span === undefined
          ? await this.#poll(context, counters, skipped)
          : await span.poll(() => this.#poll(context, counters, skipped))
    }
    // A poll owed but held back by the backoff: the cache is no fresher than after a failed
    // poll, so reads get what onStreamError says (even `pollIntervalMs: 0` stays strict).
    const deferred = owed && !due && !pollSkipped
    const streamMs = performance.now() - started
    // The cold start's warm-up runs after the first poll (or skip), so every value it loads is
    // newer than the stream position, and it runs once; later invocations see its report.
    const warmed = this.#warmReported ? undefined : await this.warm()
    this.#warmReported = true
    // Only when this poll left the container backing off: how long until it reads again.
    const backoffMs = poll !== undefined && this.#backoffMs > 0 ? this.#backoffMs : undefined
    const stalenessMs = Math.max(0, this.options.now() - this.#syncedAt)
    const cache = this.#requestCache(counters, deferred)
    let ended = false
    return {
      cache,
      poll,
      end: ({ error } = {}) => {
        if (ended) throw new Error('scache: invocation already ended')
        ended = true
        const line: InvocationLog = {
          message: 'scache',
          ...(context.awsRequestId === undefined ? {} : { requestId: context.awsRequestId }),
          streamMs: round(streamMs),
          savedMs: round(counters.savedMs),
          netMs: round(counters.savedMs - streamMs),
          hits: counters.hits,
          misses: counters.misses,
          bypassed: counters.bypassed,
          loads: counters.loads,
          loadMs: round(counters.loadMs),
          ...(warmed === undefined || this.options.warm === undefined ? {} : { warm: warmed }),
          ...(counters.loadTimeouts === 0 ? {} : { loadTimeouts: counters.loadTimeouts }),
          ...(counters.staleIfError === 0 ? {} : { staleIfError: counters.staleIfError }),
          ...(counters.circuitOpen === 0 ? {} : { circuitOpen: counters.circuitOpen }),
          evicted: counters.evicted,
          records: poll?.records ?? 0,
          skippedRecords: poll?.skippedRecords ?? 0,
          ...(skipped.length === 0 ? {} : { skipped }),
          shardsPolled: poll?.shardsPolled ?? 0,
          streamCalls:
            poll === undefined
              ? 0
              : poll.calls.getRecords +
                poll.calls.getShardIterator +
                poll.calls.listShards +
                poll.calls.describeStreamSummary,
          pollSkipped,
          polled: poll !== undefined,
          stalenessMs: round(stalenessMs),
          ...(poll?.errors[0] === undefined
            ? {}
            : { streamError: `${poll.errors[0].name}: ${poll.errors[0].message}` }),
          ...(poll?.throttled === true ? { throttled: true } : {}),
          ...(backoffMs === undefined ? {} : { backoffMs: round(backoffMs) }),
          ...(deferred ? { pollDeferred: true } : {}),
          ...(counters.cleared === undefined ? {} : { cleared: counters.cleared }),
          entries: this.cache.size,
          bytes: this.cache.bytes,
          ...(error === true ? { handlerError: true } : {}),
        }
        this.#addToTotals(line, poll)
        const { metrics, metricsSink } = this.options
        if (metricsSink !== undefined) addMetrics(metricsSink, line)
        this.options.log(metrics === undefined ? line : toEmf(line, metrics, this.options.now()))
        span?.end(line)
        return line
      },
    }
  }

  /** One poll at a time per container; a caller arriving mid-poll waits for it. */
  async #poll(
    context: InvocationContext,
    counters: Counters,
    skipped: SkippedRecord[],
  ): Promise<PollResult> {
    if (this.#polling !== undefined) return this.#polling
    const startedAt = this.options.now()
    this.#pollingStartedAt = startedAt
    const remaining = context.getRemainingTimeInMillis?.()
    // Never let the poll take more than half of what is left of the invocation.
    const budgetMs = Math.max(
      10,
      Math.min(
        this.options.pollBudgetMs,
        remaining === undefined ? Number.POSITIVE_INFINITY : remaining / 2,
      ),
    )
    // A timer cleared when the poll settles: none is left to fire after a freeze.
    const budget = new AbortController()
    const timer = setTimeout(() => budget.abort(), budgetMs)
    const prefixes = new Set<string>()
    this.#polling = this.#reader
      .poll({
        apply: (invalidation) => {
          // Keys and invalidate-all apply at once. Prefixes revoke the leases they cover at once,
          // but evict in one scan at the end of the poll: a scan per record would let a writer of
          // many prefix records stall every reader.
          this.#apply({ ...invalidation, prefixes: [] }, counters)
          if (invalidation.prefixes.length > 0) {
            this.cache.revokeLeases(invalidation)
            for (const prefix of invalidation.prefixes) prefixes.add(prefix)
          }
        },
        onSkip: (record) => {
          if (skipped.length < 10) skipped.push(record)
        },
        signal: budget.signal,
      })
      .finally(() => {
        clearTimeout(timer)
        this.#polling = undefined
      })
    const result = await this.#polling
    if (prefixes.size > 0) {
      if (prefixes.size * this.cache.size > PREFIX_SCAN_LIMIT)
        this.#clear('prefix-scan-limit', counters)
      else this.#apply({ keys: [], prefixes: [...prefixes], all: false }, counters)
    }
    this.#lastPollAt = startedAt
    const { streamNames } = this.options
    if (result.throttled && result.restarted === undefined && streamNames.length > 1) {
      // Containers pick their replica on their own, so some replicas get more readers than
      // others (50 containers on 16 streams: 6 or more on the busiest most of the time, for 3.1
      // on average), and those throttle while the rest have room. A throttled reader moves to
      // another replica, at random: readers leave the busy ones until none is over its limit.
      // It has no position there that its cache is known to be consistent with, so the cache
      // is cleared, as after a restart. The backoff still counts the failure, so a fleet over
      // every replica's budget does not hop faster than it would poll.
      const others = streamNames.filter((name) => name !== this.#streamName)
      this.#streamName =
        others[Math.floor(this.options.random() * others.length)] ?? this.#streamName
      this.#reader = this.#newReader()
      this.#clear('replica-switched', counters)
      this.#syncedAt = this.options.now()
      this.#streamHealthy = true
      this.#scheduleNextPoll(false)
      return result
    }
    this.#scheduleNextPoll(result.ok || result.restarted !== undefined)
    if (result.restarted !== undefined) {
      // The reader could not vouch for its positions (too far behind, idle past retention, a
      // rejected position, a recreated stream) and moved them to now: what was written before
      // may never be read, so nothing cached before may be served.
      this.#clear(result.restarted, counters)
      this.#syncedAt = this.options.now()
      this.#streamHealthy = true
    } else {
      this.#streamHealthy = result.ok
      if (result.ok) this.#syncedAt = startedAt
    }
    return result
  }

  /**
   * When the next poll may run. Jitter spreads the polls of many containers; drawn below the
   * interval so that it stays a bound. Each failure (throttled, 5xx, timeout) doubles the delay,
   * up to half of `maxStalenessMs` (30 s at most), with wider jitter so throttled containers do
   * not retry together. Each success halves the exponent (5 s → 2 s → the interval,
   * with the defaults): a recovering stream is not hit by the whole fleet at once, and the cache
   * is back in a few polls.
   */
  #scheduleNextPoll(succeeded: boolean): void {
    const { baseMs, capMs, maxLevel } = this.#backoff
    this.#backoffLevel = succeeded
      ? Math.floor(this.#backoffLevel / 2)
      : Math.min(maxLevel, this.#backoffLevel + 1)
    this.#intervalMs = this.options.pollIntervalMs * (0.8 + 0.2 * this.options.random())
    this.#backoffMs =
      this.#backoffLevel === 0
        ? 0
        : Math.min(capMs, baseMs * 2 ** this.#backoffLevel) * (0.5 + 0.5 * this.options.random())
  }

  #clear(reason: ClearReason, counters: Counters): void {
    this.#apply({ keys: [], prefixes: [], all: true }, counters)
    counters.cleared = reason
  }

  /** Evicts what `invalidation` covers, counted in the invocation's `evicted`; returns how many. */
  #apply(invalidation: Invalidation, counters: Counters): number {
    if (invalidation.all) counters.cleared = 'invalidate-all'
    const evicted = this.cache.invalidate(invalidation)
    counters.evicted += evicted
    // The cache revoked the leases of loads this overtook; later callers must not join them.
    for (const [key, load] of this.#loads) if (!load.lease.valid) this.#loads.delete(key)
    return evicted
  }

  /** Whether reads skip the cache at `now`; `deferred`: this invocation's poll was held back. */
  #bypassing(deferred: boolean, now: number = this.options.now()): boolean {
    const age = now - this.#syncedAt
    // A negative age is a clock that stepped back: how old the cache is cannot be known.
    return (
      age > this.options.maxStalenessMs ||
      age < 0 ||
      ((deferred || !this.#streamHealthy) && this.options.onStreamError === 'bypass')
    )
  }

  #requestCache(counters: Counters, deferred: boolean): RequestCache {
    const publishAndEvict = async (invalidation: Invalidation): Promise<void> => {
      this.#apply(invalidation, counters)
      await this.publisher.publish(invalidation)
    }
    // Checked on every read, not once per invocation: a long handler must not outlive the bound.
    const bypassed = (): boolean => this.#bypassing(deferred)
    // A read from the store, counted as a hit (crediting the entry's cost) or a miss.
    const lookup = <T>(key: string, now?: number): CacheHit<T> | undefined => {
      const hit = this.cache.get<T>(key, now)
      if (hit === undefined) counters.misses++
      else {
        counters.hits++
        counters.savedMs += hit.costMs
      }
      return hit
    }
    const cache = {
      [IS_BYPASSED]: bypassed,
      stats: () => this.stats(),
      get: <T>(key: string): T | undefined => {
        // The hot path of a hit: one clock read serves the staleness bound and the entry's TTL.
        const now = this.options.now()
        if (this.#bypassing(deferred, now)) {
          counters.bypassed++
          return undefined
        }
        return lookup<T>(key, now)?.value
      },
      set: (key, value, options) => (bypassed() ? false : this.cache.set(key, value, options)),
      getMany: <T>(keys: readonly string[]) => {
        const found = new Map<string, T>()
        if (bypassed()) {
          counters.bypassed += keys.length
          return found
        }
        for (const key of keys) {
          const hit = lookup<T>(key)
          if (hit !== undefined) found.set(key, hit.value)
        }
        return found
      },
      setMany: (entries, options) => {
        if (bypassed()) return 0
        let stored = 0
        for (const [key, value] of pairsOf(entries))
          if (this.cache.set(key, value, options)) stored++
        return stored
      },
      getOrLoadMany: async <T>(
        keys: readonly string[],
        loadMany: (missing: string[]) => Promise<Entries<T>> | Entries<T>,
        options?: LoadOptions,
      ) => {
        const unique = [...new Set(keys)]
        for (const key of unique) checkKey(key)
        const timeoutMs = this.#timeoutOf(options)
        const bypass = bypassed()
        if (bypass) counters.bypassed += unique.length
        const found = new Map<string, T>()
        const pending: [string, Promise<T>][] = []
        const missing: string[] = []
        for (const key of unique) {
          const hit = bypass ? undefined : lookup<T>(key)
          if (hit !== undefined) {
            found.set(key, hit.value)
            continue
          }
          const inflight = this.#loads.get(key)
          if (inflight?.lease.valid) pending.push([key, inflight.promise as Promise<T>])
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
            const load = () => loadBatch().then((loaded) => loaded.get(key))
            pending.push([
              key,
              this.#load(key, load, counters, bypass, options?.ttlMs, timeoutMs) as Promise<T>,
            ])
          }
        }
        const values = await Promise.all(pending.map(([, promise]) => promise))
        pending.forEach(([key], index) => {
          const value = values[index]
          if (value !== undefined && value !== null) found.set(key, value)
        })
        return found
      },
      getOrLoad: async <T>(key: string, loader: () => T | Promise<T>, options?: LoadOptions) => {
        checkKey(key)
        const timeoutMs = this.#timeoutOf(options)
        const bypass = bypassed()
        if (bypass) counters.bypassed++
        else {
          const hit = lookup<T>(key)
          if (hit !== undefined) return hit.value
        }
        const inflight = this.#loads.get(key)
        if (inflight?.lease.valid) return inflight.promise as Promise<T>
        return this.#load(key, loader, counters, bypass, options?.ttlMs, timeoutMs)
      },
      invalidate: (keys) => publishAndEvict({ keys: toArray(keys), prefixes: [], all: false }),
      evict: (keys) => {
        const list = toArray(keys)
        for (const key of list) checkKey(key)
        return this.#apply({ keys: list, prefixes: [], all: false }, counters)
      },
      invalidatePrefix: (prefixes) =>
        publishAndEvict({ keys: [], prefixes: toArray(prefixes), all: false }),
      invalidateAll: () => publishAndEvict({ keys: [], prefixes: [], all: true }),
    } satisfies Omit<RequestCache, 'bypassed'> & Bypassable
    return Object.setPrototypeOf(cache, requestCachePrototype) as RequestCache
  }

  /** A key as errors and logs may show it: hashed with `redactKeys`. */
  #shown(key: string): string {
    return this.options.redactKeys ? redactKey(key) : key
  }

  #timeoutOf(options: LoadOptions | undefined): number | undefined {
    return options?.timeoutMs === undefined
      ? this.options.loadTimeoutMs
      : integer('timeoutMs', options.timeoutMs, 1, MAX_LOAD_TIMEOUT_MS)
  }

  #load<T>(
    key: string,
    loader: () => T | Promise<T>,
    counters: Counters,
    bypassed: boolean,
    ttlMs: number | undefined,
    timeoutMs: number | undefined,
  ): Promise<T> {
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
    const lease = this.cache.acquireLease(key)
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
          this.cache.set(key, value, { costMs, ...(ttlMs === undefined ? {} : { ttlMs }) }, lease)
        return value
      } finally {
        this.cache.releaseLease(lease)
        if (this.#loads.get(key)?.lease === lease) this.#loads.delete(key)
      }
    })()
    const bounded =
      timeoutMs === undefined
        ? loaded
        : new Promise<T>((resolve, reject) => {
            const timer = setTimeout(() => {
              // Given up: a late value is not stored, and nobody joins the load any more.
              lease.valid = false
              this.cache.releaseLease(lease)
              if (this.#loads.get(key)?.lease === lease) this.#loads.delete(key)
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
    this.#loads.set(key, { promise, lease })
    return promise
  }

  /**
   * Stale-if-error: a load that failed, timed out or was refused by the breaker falls back to the
   * key's expired value, kept `staleIfErrorMs` past its TTL. An invalidated value is gone, so it
   * is never served, and nothing is served from a cache that is bypassed. Else, the error.
   */
  async #fallBack<T>(key: string, bypassed: boolean, counters: Counters, error: unknown) {
    const stale =
      this.options.staleIfErrorMs === 0 || bypassed ? undefined : this.cache.getStale<T>(key)
    if (stale === undefined) throw error
    counters.staleIfError++
    return stale.value
  }

  /** Empties the cache and forgets the stream position, as a cold start would. For tests. */
  reset(): void {
    this.cache.clear()
    this.#loads.clear()
    this.#reader.skipToNow(0)
    this.#syncedAt = this.options.now()
    this.#lastPollAt = Number.NEGATIVE_INFINITY
    this.#backoffLevel = 0
    this.#backoffMs = 0
    this.#streamHealthy = true
  }
}

/** Creates a container's cache: call once, at module scope. */
export const createScache = (options: ScacheOptions = {}): Scache => new Scache(options)
