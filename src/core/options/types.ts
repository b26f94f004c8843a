import type { DynamoDBClient } from '@aws-sdk/client-dynamodb'
import type { KinesisClient } from '@aws-sdk/client-kinesis'
import type { KeyspaceOptions, TtlRange } from '../../cache/index.js'
import type { Publisher } from '../../publish/index.js'
import type { RecordDecoder } from '../../record/index.js'
import type {
  InvocationLog,
  LoggerLike,
  MetricsLike,
  MetricsOptions,
  TracerLike,
} from '../../telemetry/index.js'
import type { CircuitBreakerOptions } from '../breaker.js'
import type { Entries } from '../entries.js'
import type { LoadRateOptions } from '../rate-limit.js'

/** A keyspace's settings: its cache bounds and TTLs, and its load rate. */
export interface ScacheKeyspaceOptions extends KeyspaceOptions {
  /** Token bucket bounding how fast this keyspace's loads start (see `loadRate`). */
  readonly loadRate?: LoadRateOptions
}

/** What reads get between a failed poll and `maxStalenessMs`. */
export type OnStreamError = 'bypass' | 'serve-stale'

export interface StreamOptions {
  /** Stream name or ARN. Default: none. Environment: `SCACHE_STREAM_NAME`. */
  readonly name?: string
  /**
   * Replicated streams, instead of `name` (the variable is comma-separated): writers put every
   * invalidation on each, and each container reads one, picked at random when it starts, and
   * another (its cache cleared) when a poll of it is throttled. K streams give up to K times the
   * read budget. With ARNs, a container reads its region's. Setting both variables is an error.
   * Default: none. Environment: `SCACHE_STREAM_NAMES`.
   */
  readonly names?: readonly string[]
  /**
   * Kinesis client, used as given: give it `maxAttempts: 1` (scache has its own backoff). Default:
   * keep-alive HTTP/1.1, 1 s connect and 2 s request timeouts, `maxAttempts: 1`.
   */
  readonly client?: KinesisClient
  /**
   * `'lean'`: scache signs and sends reads with the client's credentials, not its middleware.
   * Default: `'lean'`; `'sdk'` with `client`.
   */
  readonly readPath?: 'sdk' | 'lean'
}

export interface LogTableOptions {
  /**
   * The log table the relay (`createRelay`) appends the stream to. Containers read it instead of
   * the stream, one Query per poll whatever the shard count: for fleets past the stream's read
   * limits. Writers still publish to the stream. Default: none: read the stream. Environment:
   * `SCACHE_LOG_TABLE`.
   */
  readonly name?: string
  /**
   * Copies of the log, as the relay's `copies`: each container reads one, picked at random when it
   * starts. From 1 to 100. Default: `1`. Environment: `SCACHE_LOG_COPIES`.
   */
  readonly copies?: number
  /**
   * DynamoDB client for reading the log, used as given. Default: keep-alive HTTP/1.1, 1 s connect
   * and 2 s request timeouts, `maxAttempts: 1`.
   */
  readonly client?: DynamoDBClient
}

export interface ScacheOptions {
  /** The invalidation stream. Default: from the environment. */
  readonly stream?: StreamOptions
  /**
   * Read invalidations from the log table a relay fills from the stream, instead of the stream
   * itself. Staleness then counts from how far the relay has got (each entry says), so
   * `maxStalenessMs` must exceed the heartbeat interval plus the relay lag (docs/log-table.md).
   * Default: from the environment; none: read the stream.
   */
  readonly logTable?: LogTableOptions
  /**
   * TTL range of entries, ms. Each entry's TTL is drawn uniformly from it, so entries loaded
   * together do not expire together; `minMs == maxMs` for a fixed TTL. Default: `{ minMs: 30_000,
   * maxMs: 60_000 }`.
   */
  readonly ttl?: TtlRange
  /**
   * TTL range of "not found" entries: values `undefined` or `null`, as a loader returns for a
   * missing row. Usually shorter than `ttl`. Default: `ttl`.
   */
  readonly negativeTtl?: TtlRange
  /**
   * Most entries held. Each entry's slot is allocated when the store is made (about 36 bytes). From
   * 1 to 1,048,576. Default: `10_000`.
   */
  readonly maxEntries?: number
  /**
   * Byte budget by estimated entry size (±20 % of the heap for most values; How it works, Memory,
   * lists the exceptions); least recently used entries (to within a second) go first. From 1,024 to
   * 2^53 − 1. Default: 64 MiB.
   */
  readonly maxBytes?: number
  /**
   * Per-keyspace settings; a keyspace is the part of a key before its first `:`. With bounds, a
   * keyspace gets a store and budget of its own (in addition to `maxBytes`); the stores hold at
   * most 2^24 entries in all. Default: `{}`.
   */
  readonly keyspaces?: Readonly<Record<string, ScacheKeyspaceOptions>>
  /**
   * Bytes of a value, when you know better; for values JSON.parse decoded, `(value) =>
   * estimateBytes(value, { madeBy: 'json' })`. A value the estimate cannot see into (class
   * instance, function, getter, proxy) or `sizeOf` cannot size (throws, non-finite) is not stored.
   * `madeBy: 'json'` counts a plain object of 20 to 127 properties as the fast object JSON.parse
   * makes rather than as a hash table, and an array without spare capacity (docs/how-it-works.md,
   * Memory). Default: a structural estimate.
   */
  readonly sizeOf?: (value: unknown, key: string) => number
  /**
   * Wall clock (ms) and random source behind TTLs, poll scheduling, staleness and the circuit
   * breaker. For simulations and tests in virtual time; a given `now` is called on every read.
   * Leave it unset in a function. Default: `Date.now` (read once per run of code), `Math.random`.
   */
  readonly clock?: Clock
  /**
   * Least time between polls; `0` polls before every request. From 0 to 86,400,000. Default:
   * `1_000`. Environment: `SCACHE_POLL_INTERVAL_MS`.
   */
  readonly pollIntervalMs?: number
  /**
   * Time budget of one poll; also at most half the invocation's remaining time. From 10 to 60,000.
   * Default: `1_000`. Environment: `SCACHE_POLL_BUDGET_MS`.
   */
  readonly pollBudgetMs?: number
  /**
   * When the last successful poll is older, the cache is bypassed. At least `pollIntervalMs`. Also
   * the catch-up budget: a shard further behind its tip than this is not read on; the cache is
   * cleared instead. From 1 to 86,400,000. Default: `10_000`. Environment:
   * `SCACHE_MAX_STALENESS_MS`.
   */
  readonly maxStalenessMs?: number
  /**
   * What reads get after a failed poll: `'bypass'` the cache until a poll succeeds, or
   * `'serve-stale'` until `maxStalenessMs`. Default: `'bypass'`. Environment:
   * `SCACHE_ON_STREAM_ERROR`.
   */
  readonly onStreamError?: OnStreamError
  /**
   * Shared secret(s) for signed records (HMAC-SHA256, at least 16 characters each): readers apply
   * only scache records signed with one of them, and the default publisher signs with the first.
   * Several allow rotation: add the new secret everywhere, then move it first, then drop the old
   * one. The variable holds one secret. Default: none. Environment: `SCACHE_SECRET`.
   */
  readonly secret?: string | readonly string[]
  /**
   * Decoders for other record formats on the stream, tried before scache's own, e.g.
   * `[dynamoDbDecoder({ tables })]`. A decoder that throws has its record skipped and counted
   * (`decoder-error`). Default: `[]`.
   */
  readonly decoders?: readonly RecordDecoder[]
  /**
   * Margin for clock skew between this container and Kinesis when a position is a timestamp; a few
   * records may be read twice (harmless). From 0 to 3,600,000. Default: `5_000`.
   */
  readonly clockSkewMs?: number
  /**
   * Most `GetRecords` pages read from one shard in one poll; more backlog than that clears the
   * cache and restarts at now. From 1 to 1,000. Default: `5`.
   */
  readonly maxPagesPerShard?: number
  /**
   * Circuit breakers around loaders: `failures` (5) consecutive failed loads open a circuit (per
   * keyspace, or one global); its loads are refused with `CircuitOpenError` (or served
   * stale-if-error) until, after `resetMs` (10,000), one probe succeeds. Default: none.
   */
  readonly circuitBreaker?: CircuitBreakerOptions
  /**
   * Token bucket per keyspace for loads (`keyspaces.<name>.loadRate` for one): `burst` at once,
   * then `perSecond`; past it, `LoadRateLimitedError` or stale-if-error. Default: none.
   */
  readonly loadRate?: LoadRateOptions
  /**
   * Stale-if-error: when a load fails, times out or is refused, serve the key's value if it expired
   * less than this long ago; never an invalidated one, never while bypassed. Expired entries are
   * kept this long, within the bounds. From 0 to 86,400,000. Default: `0` (off).
   */
  readonly staleIfErrorMs?: number
  /**
   * Most time a loader (`getOrLoad`, `getOrLoadMany`, the warm-up) may take, and never past the
   * invocation's remaining time: a slower load rejects with `LoadTimeoutError`, and its value, if
   * it ever comes, is neither stored nor shared with later callers. A call's `timeoutMs` overrides
   * it. From 1 to 900,000. Default: `30_000`. Environment: `SCACHE_LOAD_TIMEOUT_MS`.
   */
  readonly loadTimeoutMs?: number
  /**
   * Keys (or a function returning them) loaded at cold start by `load(keys)`, in one batch, as
   * `getOrLoadMany` does: by the first invocation after its first poll, or by `instance.warm()` at
   * module scope during init. Default: none.
   */
  readonly warm?: WarmOptions
  /** The `Publisher` that `invalidate` in handlers uses. Default: one on the same stream(s). */
  readonly publisher?: Publisher
  /**
   * Write the log line in CloudWatch Embedded Metric Format, so its numbers become metrics with no
   * API call: `true` (namespace `scache`, dimension `FunctionName`), or `{ namespace, dimensions
   * }`. Or a Powertools `Metrics` instance: the numbers are added to it (`scache.hits`, …), and its
   * own middleware publishes them. Default: `false`.
   */
  readonly metrics?: boolean | MetricsOptions | MetricsLike
  /**
   * Keys never appear in logs in the clear: error messages (`LoadTimeoutError`, `CircuitOpenError`,
   * `PublishError`) show them, and keyspaces, as short keyed hashes (`redactKey(key)`: HMAC-SHA256
   * under a key random per process, or `SCACHE_REDACT_KEY`). The variable is `true` or `false`.
   * Default: `false`. Environment: `SCACHE_REDACT_KEYS`.
   */
  readonly redactKeys?: boolean
  /**
   * Where the per-invocation log line goes: `true` writes one JSON line to stdout, `false` nothing;
   * a function receives the line; a logger with `info` (Powertools `Logger`) writes it as one
   * entry. Default: `true`.
   */
  readonly log?: boolean | ((line: InvocationLog) => void) | LoggerLike
  /**
   * AWS X-Ray: each invocation becomes a `scache` subsegment (with a `scache.poll` child) of the
   * current segment, annotated with the log line's counts. Powertools' `Tracer` fits, or any object
   * with `getSegment()` such as `aws-xray-sdk-core`. Default: none.
   */
  readonly tracer?: TracerLike
}

export interface WarmOptions {
  /** The keys, or a function that returns them (read from config, or from the last run). */
  readonly keys: readonly string[] | (() => readonly string[] | Promise<readonly string[]>)
  /** Loads the keys it is given, returning the values found (as `getOrLoadMany`'s loader). */
  readonly load: (keys: string[]) => Promise<Entries> | Entries
  /** Most time the warm-up may take, ms. Default: `loadTimeoutMs`. */
  readonly timeoutMs?: number
}

/** A wall clock in ms and a random source in [0, 1). */
export interface Clock {
  readonly now?: () => number
  readonly random?: () => number
}

export interface ResolvedOptions {
  /** The stream this container reads. */
  readonly streamName: string
  /** Every stream writers publish to: `streamName`, or all of `stream.names`. */
  readonly streamNames: readonly string[]
  readonly client: KinesisClient | undefined
  readonly readPath: 'sdk' | 'lean'
  /** Read the log table instead of the stream: its name, the copy read, its client. */
  readonly logTable:
    | { readonly name: string; readonly copy: number; readonly client?: DynamoDBClient }
    | undefined
  readonly ttl: TtlRange
  readonly negativeTtl: TtlRange | undefined
  readonly maxEntries: number
  readonly maxBytes: number
  readonly keyspaces: Readonly<Record<string, KeyspaceOptions>>
  readonly sizeOf: ((value: unknown, key: string) => number) | undefined
  readonly now: () => number
  readonly random: () => number
  readonly pollIntervalMs: number
  readonly pollBudgetMs: number
  readonly maxStalenessMs: number
  readonly onStreamError: OnStreamError
  readonly clockSkewMs: number
  readonly decoders: readonly RecordDecoder[]
  readonly secrets: readonly string[]
  readonly maxPagesPerShard: number
  readonly loadTimeoutMs: number
  readonly staleIfErrorMs: number
  readonly circuitBreaker: Required<CircuitBreakerOptions> | undefined
  /** Load rate limits: each keyspace's own, and the one for keyspaces without. */
  readonly loadRates: {
    readonly default: LoadRateOptions | undefined
    readonly byKeyspace: ReadonlyMap<string, LoadRateOptions>
  }
  readonly warm: WarmOptions | undefined
  readonly publisher: Publisher | undefined
  readonly log: (line: InvocationLog) => void
  /** Where a lasting problem with the set-up is reported, once. */
  readonly logError: (message: string, fields: Readonly<Record<string, unknown>>) => void
  /** Inline EMF: namespace and dimensions. */
  readonly metrics: Required<MetricsOptions> | undefined
  /** A metrics buffer (Powertools `Metrics`) the numbers are added to. */
  readonly metricsSink: MetricsLike | undefined
  readonly redactKeys: boolean
  readonly tracer: TracerLike | undefined
}
