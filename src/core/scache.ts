import { performance } from 'node:perf_hooks'
import type { KinesisClient } from '@aws-sdk/client-kinesis'
import { Cache } from '../cache/index.js'
import { describeError, LoadTimeoutError } from '../errors.js'
import { LogSource } from '../log/index.js'
import { createPublisher, type Publisher } from '../publish/index.js'
import type { Invalidation } from '../record/index.js'
import type {
  InvalidationSource,
  SkippedRecord,
  SourcePollResult,
  SourcePosition,
} from '../source/index.js'
import { arnRegion } from '../stream/client.js'
import { createDefaultClient, StreamReader } from '../stream/index.js'
import { addMetrics, InvocationSpan, round, toEmf, type WarmReport } from '../telemetry/index.js'
import { withDeadline } from './deadline.js'
import { applyInvalidation } from './evict.js'
import { Freshness } from './freshness.js'
import { SourceHealth } from './health.js'
import { type Counters, logLine, newCounters, Totals } from './invocation.js'
import { Loads } from './loads.js'
import { type ResolvedOptions, resolveOptions, type ScacheOptions } from './options/index.js'
import { Poller } from './poller.js'
import { type Engine, InvocationCache } from './request-cache.js'
import type {
  CacheStats,
  Diagnostics,
  Invocation,
  InvocationContext,
  RequestCache,
} from './types.js'

/**
 * A skipped poll keeps an iterator this young (and at most half `maxStalenessMs`, so that its
 * backlog never counts as far behind): re-reading it is cheaper than a new iterator.
 */
const SKIP_KEEPS_ITERATOR_MS = 60_000

/**
 * One container's cache and its view of the invalidation stream. Create it once, at module scope;
 * call `begin` before each request and `end` after it. The `scache()` middleware does exactly
 * that; without Middy, call them yourself.
 *
 * It composes the parts, each of which states the part of the consistency contract it enforces:
 * `Freshness` (when to poll; the staleness bound), `Poller` (reading the source, restarts,
 * replica moves), `Loads` (single flight, the fill guard, deadlines, the breaker,
 * stale-if-error), `InvocationCache` (`context.cache`), and the invocation record (`logLine`,
 * `Totals`).
 *
 * Consistency: the cache only holds values loaded after the source's position, and every poll
 * applies everything written since that position, so an entry is served at most
 * `pollIntervalMs` + poll time + Kinesis' visibility delay after its invalidation was
 * acknowledged, or the cache is bypassed (`maxStalenessMs`, `onStreamError`).
 */
export class Scache {
  readonly cache: Cache
  readonly options: ResolvedOptions
  readonly #freshness: Freshness
  readonly #loads: Loads
  readonly #poller: Poller
  readonly #health: SourceHealth
  readonly #engine: Engine
  readonly #totals = new Totals()
  readonly #client: KinesisClient
  #publisher: Publisher | undefined
  #warming: Promise<WarmReport> | undefined
  /** The warm-up's report went into a log line (the first invocation's). */
  #warmReported = false
  /** The warm-up settled: later invocations need not wait for it. */
  #warmSettled = false

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
    this.#client = o.client ?? createDefaultClient({ maxAttempts: 1 })
    this.#publisher = o.publisher
    this.#freshness = new Freshness(o)
    this.#loads = new Loads(this.cache, o)
    const logTable = o.logTable
    this.#health = new SourceHealth((problem) =>
      o.logError('scache: the invalidation source cannot be read; the cache is bypassed', {
        source: this.#poller.source.name,
        error: problem,
        fix: 'check the stream (or table) name, the region, and the role the function runs as',
      }),
    )
    this.#poller = new Poller(this.cache, this.#loads, this.#freshness, {
      // A container reading the log reads one copy of it, whatever the streams behind it.
      names: logTable === undefined ? o.streamNames : [logTable.name],
      first: logTable === undefined ? o.streamName : logTable.name,
      createSource: (stream): InvalidationSource =>
        logTable !== undefined
          ? new LogSource({
              table: logTable.name,
              copy: logTable.copy,
              ...(logTable.client === undefined ? {} : { client: logTable.client }),
              clockSkewMs: o.clockSkewMs,
              maxPages: o.maxPagesPerShard,
              // A relay further behind the stream than the bound allows is as good as stuck.
              maxBehindMs: o.maxStalenessMs,
              now: o.now,
            })
          : new StreamReader({
              stream,
              client: this.#client,
              readPath: o.readPath,
              clockSkewMs: o.clockSkewMs,
              decoders: o.decoders,
              secrets: o.secrets,
              maxPagesPerShard: o.maxPagesPerShard,
              // A backlog spanning more than the staleness bound is not worth reading inside a request.
              maxBehindMs: o.maxStalenessMs,
              now: o.now,
            }),
      pollBudgetMs: o.pollBudgetMs,
      random: o.random,
      now: o.now,
      health: this.#health,
    })
    this.#engine = {
      cache: this.cache,
      loads: this.#loads,
      freshness: this.#freshness,
      now: o.now,
      apply: (invalidation, counters) =>
        applyInvalidation(this.cache, this.#loads, invalidation, counters),
      publish: async (invalidation: Invalidation, timeoutMs: number | undefined) => {
        await this.publisher.publish(invalidation, timeoutMs === undefined ? {} : { timeoutMs })
      },
      refresh: (context, counters) => {
        if (!this.#freshness.repollDue(o.now())) return undefined
        // A poll already running (a concurrent read's, or another invocation's) serves as well.
        if (!this.#poller.inFlight) counters.repolls++
        return this.#poller.poll(context, counters, [])
      },
      stats: () => this.stats(),
    }
  }

  /** The publisher `invalidate` uses; created on first use so read-only functions never build one. */
  get publisher(): Publisher {
    const { streamName, streamNames, client } = this.options
    // Streams in other regions (ARNs) get clients of their own; the reads' client serves the rest.
    const home = arnRegion(streamName) ?? process.env.AWS_REGION
    const elsewhere = (name: string): boolean => (arnRegion(name) ?? home) !== home
    this.#publisher ??= createPublisher({
      // Replicated streams: every container's writes reach every replica.
      ...(streamNames.some(elsewhere)
        ? {
            streams: streamNames.map((name) =>
              client === undefined || elsewhere(name) ? { name } : { name, client },
            ),
          }
        : streamNames.length > 1
          ? { streamNames }
          : { streamName }),
      redactKeys: this.options.redactKeys,
      ...(this.options.secrets[0] === undefined ? {} : { secret: this.options.secrets[0] }),
      // The client the reads use also knows where the stream is (region, endpoint, credentials).
      ...(client === undefined || streamNames.some(elsewhere) ? {} : { client }),
    })
    return this.#publisher
  }

  /**
   * Loads the `warm` keys (once per container; later calls return the same report). `begin`
   * calls it on the first invocation; call it at module scope (top-level `await`) to warm the
   * cache during the Lambda init phase instead. Never rejects: a failure is in the report.
   */
  warm(context: InvocationContext = {}): Promise<WarmReport> {
    this.#warming ??= this.#warm(context.getRemainingTimeInMillis?.())
    return this.#warming
  }

  /**
   * The whole warm-up, `keys()` included, has a deadline: `warm.timeoutMs` (default
   * `loadTimeoutMs`), and within an invocation never more than half of what is left of it, so a
   * warm-up that never settles cannot hold every `begin` back.
   */
  async #warm(remainingMs: number | undefined): Promise<WarmReport> {
    const warm = this.options.warm
    if (warm === undefined) return { keys: 0, loaded: 0, ms: 0 }
    const started = performance.now()
    const given = warm.timeoutMs ?? this.options.loadTimeoutMs
    const timeoutMs =
      remainingMs === undefined ? given : Math.max(1, Math.min(given, Math.floor(remainingMs / 2)))
    let keys = 0
    try {
      const run = async () => {
        const list = typeof warm.keys === 'function' ? await warm.keys() : warm.keys
        keys = list.length
        return this.#requestCache(newCounters(), false).getOrLoadMany(list, warm.load, {
          timeoutMs,
        })
      }
      const loaded = await withDeadline(
        run(),
        timeoutMs,
        () => new LoadTimeoutError('warm-up', timeoutMs),
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
    const now = this.options.now()
    const backoffMs = this.#freshness.backoffMs
    return {
      ...this.#totals.snapshot(),
      entries: this.cache.size,
      bytes: this.cache.bytes,
      lastPollAgeMs: this.#freshness.lastPollAgeMs(now),
      stalenessMs: this.#freshness.stalenessMs(now),
      bypassing: this.#freshness.bypassing(false, now),
      backoffMs: backoffMs > 0 ? round(backoffMs) : undefined,
      streamState: this.#health.state,
      ...(this.#health.problem === undefined ? {} : { streamProblem: this.#health.problem }),
    }
  }

  /** `stats()` with the stream and every shard's position: a snapshot for a health endpoint. */
  diagnostics(): Diagnostics {
    return {
      ...this.stats(),
      stream: this.#poller.source.name,
      streams: this.options.streamNames,
      pollIntervalMs: this.options.pollIntervalMs,
      maxStalenessMs: this.options.maxStalenessMs,
      positions: this.positions(),
    }
  }

  /** Per-shard positions, for diagnostics. */
  positions(): readonly SourcePosition[] {
    return this.#poller.source.positions()
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
    // Concurrent invocations (Lambda Managed Instances run many at once in one environment)
    // share a poll, but only one that started after this invocation did: an older one may have
    // read the stream before an invalidation this invocation must see was acknowledged.
    await this.#poller.settle(started)
    const now = this.options.now()
    let poll: SourcePollResult | undefined
    let pollSkipped = false
    let pollJoined = false
    const span =
      this.options.tracer === undefined ? undefined : InvocationSpan.open(this.options.tracer)
    const schedule = this.#freshness.schedule(now)
    const due = schedule.due || this.#poller.inFlight
    // A container thawed after every TTL (and stale-if-error time) holds nothing readable, and
    // nothing needs reading: one comparison, not a walk of the entries, so that a poll's cost
    // does not grow with the cache.
    const empty = this.cache.size === 0 || (due && this.cache.dropIfAllExpired(now))
    if (empty && this.cache.loading === 0 && !this.#poller.inFlight) {
      // Nothing here can be stale, so nothing needs reading: move to now for free.
      this.#poller.source.skipToNow(
        Math.min(SKIP_KEEPS_ITERATOR_MS, this.options.maxStalenessMs / 2),
      )
      this.#freshness.skipped(now)
      pollSkipped = true
    } else if (due) {
      // Joined: the poll is another invocation's; its reads and calls are on that one's line.
      pollJoined = this.#poller.inFlight
      const run = () => this.#poller.poll(context, counters, skipped)
      const result = span === undefined ? await run() : await span.poll(run, pollJoined)
      if (!pollJoined) poll = result
    }
    // A poll owed but held back by the backoff: the cache is no fresher than after a failed
    // poll, so reads get what onStreamError says (even `pollIntervalMs: 0` stays strict).
    const deferred = schedule.owed && !due && !pollSkipped
    const streamMs = performance.now() - started
    // The cold start's warm-up runs after the first poll (or skip), so every value it loads is
    // newer than the stream position, and it runs once; its report goes on one line, the first
    // invocation's (concurrent first invocations wait for it, but only one reports it).
    const reportsWarm = !this.#warmReported
    this.#warmReported = true
    const warmed = this.#warmSettled ? undefined : await this.warm(context)
    this.#warmSettled = true
    const backoffMs = this.#freshness.backoffMs
    const start = {
      requestId: context.awsRequestId,
      streamMs,
      poll,
      pollSkipped,
      pollJoined,
      deferred,
      stalenessMs: this.#freshness.stalenessMs(this.options.now()),
      backoffMs: poll !== undefined && backoffMs > 0 ? backoffMs : undefined,
      warmed: this.options.warm === undefined || !reportsWarm ? undefined : warmed,
      skipped,
    }
    let ended = false
    return {
      cache: this.#requestCache(counters, deferred, context),
      poll,
      end: ({ error } = {}) => {
        if (ended) throw new Error('scache: invocation already ended')
        ended = true
        const line = logLine(start, counters, this.cache, error === true)
        this.#totals.add(line, poll)
        const { metrics, metricsSink } = this.options
        if (metricsSink !== undefined) addMetrics(metricsSink, line)
        this.options.log(metrics === undefined ? line : toEmf(line, metrics, this.options.now()))
        span?.end(line)
        return line
      },
    }
  }

  #requestCache(counters: Counters, deferred: boolean, context?: InvocationContext): RequestCache {
    return new InvocationCache(this.#engine, counters, deferred, context)
  }

  /** Empties the cache and forgets the stream position, as a cold start would. For tests. */
  reset(): void {
    this.cache.clear()
    this.#loads.clear()
    this.#poller.source.skipToNow(0)
    this.#freshness.reset()
  }
}

/** Creates a container's cache: call once, at module scope. */
export const createScache = (options: ScacheOptions = {}): Scache => new Scache(options)
