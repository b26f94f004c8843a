import type { KinesisClient } from '@aws-sdk/client-kinesis'
import type { KeyspaceOptions, TtlRange } from '../cache/index.js'
import { maxEntriesOption } from '../cache/size.js'
import { ScacheOptionsError } from '../errors.js'
import type { Publisher } from '../publish/index.js'
import type { RecordDecoder } from '../record/index.js'
import {
  type InvocationLog,
  isLogger,
  isMetrics,
  isTracer,
  type LoggerLike,
  logThrough,
  type MetricsLike,
  type MetricsOptions,
  reservedNames,
  type TracerLike,
} from '../telemetry/index.js'
import { describe, integer, isObject, onlyKnown } from '../validate.js'
import type { CircuitBreakerOptions } from './breaker.js'
import { perRunClock } from './clock.js'
import type { Entries } from './entries.js'

/** What reads get between a failed poll and `maxStalenessMs`. */
export type OnStreamError = 'bypass' | 'serve-stale'

export interface StreamOptions {
  /** Stream name or ARN. Default: `SCACHE_STREAM_NAME`. */
  readonly name?: string
  /**
   * Replicated streams, instead of `name` (default: `SCACHE_STREAM_NAMES`, comma-separated):
   * writers put every invalidation on each, and each container reads one, picked at random when
   * it starts, and another (its cache cleared) when a poll of it is throttled: readers move off
   * the replicas that chance made busiest. K streams give up to K times the read budget.
   */
  readonly names?: readonly string[]
  /**
   * Kinesis client for reads, used as given. Default: keep-alive HTTP/1.1, connect timeout 1 s,
   * request timeout 2 s, `maxAttempts: 1`, configured from the environment.
   */
  readonly client?: KinesisClient
}

export interface ScacheOptions {
  /** The invalidation stream. */
  readonly stream?: StreamOptions
  /** TTL range of entries, ms; each entry's TTL is drawn uniformly from it. Default 30–60 s. */
  readonly ttl?: TtlRange
  /**
   * TTL range of "not found" entries: values `undefined` or `null`, as a loader returns for a
   * missing row. Usually shorter than `ttl`. Default: `ttl`.
   */
  readonly negativeTtl?: TtlRange
  /** Most entries held. Default 10,000. */
  readonly maxEntries?: number
  /** Byte budget by estimated value size. Default 64 MiB. */
  readonly maxBytes?: number
  /** Per-keyspace TTL ranges and bounds; a keyspace is the part of a key before its first `:`. */
  readonly keyspaces?: Readonly<Record<string, KeyspaceOptions>>
  /** Estimated bytes of a value. Default: a structural estimate. */
  readonly sizeOf?: (value: unknown, key: string) => number
  /**
   * Wall clock (ms) and random source behind TTLs, poll scheduling, staleness and the circuit
   * breaker. Default `Date.now` (read once per run of code) and `Math.random`. For simulations
   * and tests in virtual time; a given `now` is called on every read.
   */
  readonly clock?: Clock
  /** Least time between polls, ms; 0 polls before every request. Default 1,000. */
  readonly pollIntervalMs?: number
  /** Time budget of one poll, ms, further capped by the invocation's remaining time. Default 1,000. */
  readonly pollBudgetMs?: number
  /** Once the last successful poll is older than this, ms, the cache is bypassed. Default 10,000. */
  readonly maxStalenessMs?: number
  /** What reads get after a failed poll, until `maxStalenessMs`. Default `'bypass'`. */
  readonly onStreamError?: OnStreamError
  /**
   * Shared secret(s) for signed records (HMAC-SHA256): readers apply only scache records signed
   * with one of them, and the default publisher signs with the first. Several allow rotation:
   * add the new secret everywhere, then move it first, then drop the old one. Default: none.
   */
  readonly secret?: string | readonly string[]
  /**
   * Decoders for other record formats on the stream, tried before scache's own: e.g.
   * `dynamoDbDecoder` for a table streaming its changes into it. Default none.
   */
  readonly decoders?: readonly RecordDecoder[]
  /** Margin for clock skew between this container and Kinesis, ms. Default 5,000. */
  readonly clockSkewMs?: number
  /** Most GetRecords pages per shard in one poll. Default 5. */
  readonly maxPagesPerShard?: number
  /**
   * Circuit breakers around loaders: consecutive failures open a circuit (per keyspace, or one
   * global), and its loads are refused with `CircuitOpenError` (or served stale-if-error) until
   * one probe succeeds. Default: none.
   */
  readonly circuitBreaker?: CircuitBreakerOptions
  /**
   * Stale-if-error: when a load fails (or times out), serve the key's expired value if it expired
   * less than this long ago, ms; never an invalidated one, never while the cache is bypassed.
   * Expired entries are kept this long (in the bounds). Default 0: off.
   */
  readonly staleIfErrorMs?: number
  /**
   * Most time a `getOrLoad` loader may take, ms; a slower load rejects with `LoadTimeoutError`
   * and is neither stored nor joined. Default: none (a per-call `timeoutMs` still applies).
   */
  readonly loadTimeoutMs?: number
  /**
   * Keys loaded at cold start, in one batch: the first invocation (after its first poll) or
   * `instance.warm()` at module scope loads them with `load`, as `getOrLoadMany` would.
   */
  readonly warm?: WarmOptions
  /** Publisher used by `invalidate` in handlers. Default: one on the same stream. */
  readonly publisher?: Publisher
  /**
   * Write the log line in CloudWatch Embedded Metric Format, so CloudWatch turns its numbers into
   * metrics: `true` (namespace `scache`, dimension `FunctionName`), or `{ namespace, dimensions }`.
   * Or a Powertools `Metrics` instance: the numbers are added to it (`scache.hits`, …), and its
   * own middleware publishes them. Default `false`.
   */
  readonly metrics?: boolean | MetricsOptions | MetricsLike
  /**
   * Keys never appear in logs in the clear: errors (`LoadTimeoutError`, `CircuitOpenError`,
   * `PublishError` messages) show them as short hashes. Default false.
   */
  readonly redactKeys?: boolean
  /**
   * Where the per-invocation log line goes: `true` (default) writes one JSON line to stdout,
   * `false` writes nothing, a function receives the line.
   */
  readonly log?: boolean | ((line: InvocationLog) => void) | LoggerLike
  /**
   * AWS X-Ray: each invocation becomes a `scache` subsegment (with a `scache.poll` child) of the
   * current segment, annotated with the log line's counts. Powertools' `Tracer` fits, or any
   * object with `getSegment()` such as `aws-xray-sdk-core`. Default: none.
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
  readonly loadTimeoutMs: number | undefined
  readonly staleIfErrorMs: number
  readonly circuitBreaker: Required<CircuitBreakerOptions> | undefined
  readonly warm: WarmOptions | undefined
  readonly publisher: Publisher | undefined
  readonly log: (line: InvocationLog) => void
  /** Inline EMF: namespace and dimensions. */
  readonly metrics: Required<MetricsOptions> | undefined
  /** A metrics buffer (Powertools `Metrics`) the numbers are added to. */
  readonly metricsSink: MetricsLike | undefined
  readonly redactKeys: boolean
  readonly tracer: TracerLike | undefined
}

export const defaults = {
  ttl: { minMs: 30_000, maxMs: 60_000 },
  maxEntries: 10_000,
  maxBytes: 64 * 1_048_576,
  pollIntervalMs: 1_000,
  pollBudgetMs: 1_000,
  maxStalenessMs: 10_000,
  onStreamError: 'bypass',
  clockSkewMs: 5_000,
  maxPagesPerShard: 5,
} as const

const DAY_MS = 86_400_000
/** Lambda's longest invocation, 15 minutes: no load can usefully take longer. */
export const MAX_LOAD_TIMEOUT_MS = 900_000

const ttlRange = (path: string, value: unknown): TtlRange => {
  if (!isObject(value))
    throw new ScacheOptionsError(path, `must be { minMs, maxMs } (got ${describe(value)})`)
  onlyKnown(path, value, ['minMs', 'maxMs'])
  // A TTL of 0 reads as "never expires" in many caches (lru-cache among them); 1 ms is the
  // shortest real TTL.
  const minMs = integer(`${path}.minMs`, value.minMs, 1, 365 * DAY_MS)
  const maxMs = integer(`${path}.maxMs`, value.maxMs, 1, 365 * DAY_MS)
  if (maxMs < minMs)
    throw new ScacheOptionsError(
      `${path}.maxMs`,
      `must be at least ${path}.minMs (${minMs}), got ${maxMs}`,
    )
  return { minMs, maxMs }
}

const fn = <T>(path: string, value: unknown): T => {
  if (typeof value !== 'function')
    throw new ScacheOptionsError(path, `must be a function (got ${describe(value)})`)
  return value as T
}

const toList = (value: unknown): unknown[] => (Array.isArray(value) ? value : [value])

const writeLine = (line: InvocationLog): void => {
  process.stdout.write(`${JSON.stringify(line)}\n`)
}

/** Validates every option once, at construction, and fills in the defaults. */
export const resolveOptions = (input: unknown): ResolvedOptions => {
  const options = input ?? {}
  if (!isObject(options))
    throw new ScacheOptionsError('options', `must be an object (got ${describe(options)})`)
  onlyKnown('', options, [
    'stream',
    'ttl',
    'negativeTtl',
    'maxEntries',
    'maxBytes',
    'keyspaces',
    'sizeOf',
    'clock',
    'pollIntervalMs',
    'pollBudgetMs',
    'maxStalenessMs',
    'onStreamError',
    'clockSkewMs',
    'decoders',
    'secret',
    'maxPagesPerShard',
    'loadTimeoutMs',
    'staleIfErrorMs',
    'circuitBreaker',
    'warm',
    'publisher',
    'metrics',
    'redactKeys',
    'log',
    'tracer',
  ])

  const clock = options.clock ?? {}
  if (!isObject(clock))
    throw new ScacheOptionsError('clock', `must be an object (got ${describe(clock)})`)
  onlyKnown('clock', clock, ['now', 'random'])
  const random: () => number =
    clock.random === undefined ? Math.random : fn('clock.random', clock.random)

  const stream = options.stream ?? {}
  if (!isObject(stream))
    throw new ScacheOptionsError(
      'stream',
      `must be { name | names, client? } (got ${describe(stream)})`,
    )
  onlyKnown('stream', stream, ['name', 'names', 'client'])
  if (stream.name !== undefined && stream.names !== undefined)
    throw new ScacheOptionsError('stream.names', 'is given instead of stream.name, not with it')
  const fromEnv = process.env.SCACHE_STREAM_NAMES?.split(',').map((name) => name.trim())
  const names =
    stream.names ??
    (stream.name === undefined &&
    fromEnv !== undefined &&
    process.env.SCACHE_STREAM_NAME === undefined
      ? fromEnv
      : undefined)
  if (
    names !== undefined &&
    (!Array.isArray(names) ||
      names.length === 0 ||
      !names.every((name) => typeof name === 'string' && name !== ''))
  ) {
    throw new ScacheOptionsError(
      'stream.names',
      'must be a non-empty array of stream names or ARNs',
    )
  }
  const streamNames = (names as string[] | undefined) ?? [
    stream.name ?? process.env.SCACHE_STREAM_NAME,
  ]
  // Each container reads one of the replicas; writers write to all.
  const streamName = streamNames[Math.floor(random() * streamNames.length)]
  if (typeof streamName !== 'string' || streamName === '') {
    throw new ScacheOptionsError(
      'stream.name',
      'is required: pass the stream name or ARN, or set SCACHE_STREAM_NAME',
    )
  }
  if (
    stream.client !== undefined &&
    (!isObject(stream.client) || typeof stream.client.send !== 'function')
  ) {
    throw new ScacheOptionsError('stream.client', 'must be a KinesisClient')
  }

  const ttl = options.ttl === undefined ? defaults.ttl : ttlRange('ttl', options.ttl)
  const negativeTtl =
    options.negativeTtl === undefined ? undefined : ttlRange('negativeTtl', options.negativeTtl)
  const maxEntries = maxEntriesOption('maxEntries', options.maxEntries ?? defaults.maxEntries)
  const maxBytes = integer(
    'maxBytes',
    options.maxBytes ?? defaults.maxBytes,
    1_024,
    Number.MAX_SAFE_INTEGER,
  )

  const keyspaces: Record<string, KeyspaceOptions> = {}
  if (options.keyspaces !== undefined) {
    if (!isObject(options.keyspaces))
      throw new ScacheOptionsError('keyspaces', 'must be an object of keyspace names')
    for (const [name, keyspace] of Object.entries(options.keyspaces)) {
      const path = `keyspaces.${name}`
      if (name === '' || name.includes(':'))
        throw new ScacheOptionsError(path, 'must be a keyspace name: non-empty, without ":"')
      if (!isObject(keyspace))
        throw new ScacheOptionsError(path, `must be { ttl?, negativeTtl?, maxEntries?, maxBytes? }`)
      onlyKnown(path, keyspace, ['ttl', 'negativeTtl', 'maxEntries', 'maxBytes'])
      keyspaces[name] = {
        ...(keyspace.ttl === undefined ? {} : { ttl: ttlRange(`${path}.ttl`, keyspace.ttl) }),
        ...(keyspace.negativeTtl === undefined
          ? {}
          : { negativeTtl: ttlRange(`${path}.negativeTtl`, keyspace.negativeTtl) }),
        ...(keyspace.maxEntries === undefined
          ? {}
          : { maxEntries: maxEntriesOption(`${path}.maxEntries`, keyspace.maxEntries) }),
        ...(keyspace.maxBytes === undefined
          ? {}
          : {
              maxBytes: integer(
                `${path}.maxBytes`,
                keyspace.maxBytes,
                1_024,
                Number.MAX_SAFE_INTEGER,
              ),
            }),
      }
    }
  }

  const pollIntervalMs = integer(
    'pollIntervalMs',
    options.pollIntervalMs ?? defaults.pollIntervalMs,
    0,
    DAY_MS,
  )
  const pollBudgetMs = integer(
    'pollBudgetMs',
    options.pollBudgetMs ?? defaults.pollBudgetMs,
    10,
    60_000,
  )
  const maxStalenessMs = integer(
    'maxStalenessMs',
    options.maxStalenessMs ?? defaults.maxStalenessMs,
    1,
    DAY_MS,
  )
  if (maxStalenessMs < pollIntervalMs) {
    throw new ScacheOptionsError(
      'maxStalenessMs',
      `must be at least pollIntervalMs (${pollIntervalMs}), or every poll interval would bypass the cache (got ${maxStalenessMs})`,
    )
  }
  const onStreamError = options.onStreamError ?? defaults.onStreamError
  if (onStreamError !== 'bypass' && onStreamError !== 'serve-stale') {
    throw new ScacheOptionsError(
      'onStreamError',
      `must be 'bypass' or 'serve-stale' (got ${describe(onStreamError)})`,
    )
  }
  const clockSkewMs = integer(
    'clockSkewMs',
    options.clockSkewMs ?? defaults.clockSkewMs,
    0,
    3_600_000,
  )
  const maxPagesPerShard = integer(
    'maxPagesPerShard',
    options.maxPagesPerShard ?? defaults.maxPagesPerShard,
    1,
    1_000,
  )

  const loadTimeoutMs =
    options.loadTimeoutMs === undefined
      ? undefined
      : integer('loadTimeoutMs', options.loadTimeoutMs, 1, MAX_LOAD_TIMEOUT_MS)

  const decoders = options.decoders ?? []
  if (
    !Array.isArray(decoders) ||
    !decoders.every((decoder) => isObject(decoder) && typeof decoder.decode === 'function')
  ) {
    throw new ScacheOptionsError(
      'decoders',
      'must be an array of record decoders ({ name, decode }), e.g. [dynamoDbDecoder({ tables })]',
    )
  }

  const secrets = options.secret === undefined ? [] : toList(options.secret)
  if (
    (secrets.length === 0 && options.secret !== undefined) ||
    !secrets.every((secret) => typeof secret === 'string' && secret.length >= 16)
  ) {
    throw new ScacheOptionsError(
      'secret',
      'must be a string of at least 16 characters, or a non-empty array of them',
    )
  }

  const staleIfErrorMs = integer('staleIfErrorMs', options.staleIfErrorMs ?? 0, 0, DAY_MS)

  let circuitBreaker: Required<CircuitBreakerOptions> | undefined
  if (options.circuitBreaker !== undefined) {
    const given = options.circuitBreaker
    if (!isObject(given))
      throw new ScacheOptionsError(
        'circuitBreaker',
        `must be { failures?, resetMs?, scope? } (got ${describe(given)})`,
      )
    onlyKnown('circuitBreaker', given, ['failures', 'resetMs', 'scope'])
    const scope = given.scope ?? 'keyspace'
    if (scope !== 'keyspace' && scope !== 'global')
      throw new ScacheOptionsError(
        'circuitBreaker.scope',
        `must be 'keyspace' or 'global' (got ${describe(scope)})`,
      )
    circuitBreaker = {
      failures: integer('circuitBreaker.failures', given.failures ?? 5, 1, 1_000),
      resetMs: integer('circuitBreaker.resetMs', given.resetMs ?? 10_000, 1, DAY_MS),
      scope,
    }
  }

  let warm: WarmOptions | undefined
  if (options.warm !== undefined) {
    const given = options.warm
    if (!isObject(given))
      throw new ScacheOptionsError(
        'warm',
        `must be { keys, load, timeoutMs? } (got ${describe(given)})`,
      )
    onlyKnown('warm', given, ['keys', 'load', 'timeoutMs'])
    if (
      typeof given.keys !== 'function' &&
      !(Array.isArray(given.keys) && given.keys.every((key) => typeof key === 'string'))
    ) {
      throw new ScacheOptionsError(
        'warm.keys',
        'must be an array of keys or a function returning one',
      )
    }
    warm = {
      keys: given.keys as WarmOptions['keys'],
      load: fn<WarmOptions['load']>('warm.load', given.load),
      ...(given.timeoutMs === undefined
        ? {}
        : { timeoutMs: integer('warm.timeoutMs', given.timeoutMs, 1, MAX_LOAD_TIMEOUT_MS) }),
    }
  }

  const publisher = options.publisher
  if (
    publisher !== undefined &&
    (!isObject(publisher) || typeof publisher.publish !== 'function')
  ) {
    throw new ScacheOptionsError('publisher', 'must be a Publisher from createPublisher()')
  }
  const log = options.log ?? true
  if (typeof log !== 'boolean' && typeof log !== 'function' && !isLogger(log)) {
    throw new ScacheOptionsError(
      'log',
      `must be a boolean, a function or a logger with info() (got ${describe(log)})`,
    )
  }

  const redactKeys = options.redactKeys ?? false
  if (typeof redactKeys !== 'boolean')
    throw new ScacheOptionsError('redactKeys', `must be a boolean (got ${describe(redactKeys)})`)

  let metrics: Required<MetricsOptions> | undefined
  const tracer = options.tracer
  if (tracer !== undefined && !isTracer(tracer))
    throw new ScacheOptionsError(
      'tracer',
      `must be a tracer with getSegment(), such as Powertools' Tracer (got ${describe(tracer)})`,
    )

  const metricsSink = isMetrics(options.metrics) ? options.metrics : undefined
  if (options.metrics !== undefined && options.metrics !== false && metricsSink === undefined) {
    const given = options.metrics === true ? {} : options.metrics
    if (!isObject(given))
      throw new ScacheOptionsError(
        'metrics',
        `must be a boolean or { namespace?, dimensions? } (got ${describe(given)})`,
      )
    onlyKnown('metrics', given, ['namespace', 'dimensions'])
    const namespace = given.namespace ?? 'scache'
    if (typeof namespace !== 'string' || namespace.length === 0 || namespace.length > 255)
      throw new ScacheOptionsError('metrics.namespace', 'must be a string of 1 to 255 characters')
    const functionName = process.env.AWS_LAMBDA_FUNCTION_NAME
    const dimensions =
      given.dimensions ?? (functionName ? { FunctionName: functionName } : { service: 'scache' })
    if (
      !isObject(dimensions) ||
      Object.keys(dimensions).length === 0 ||
      Object.keys(dimensions).length > 30 ||
      !Object.values(dimensions).every((value) => typeof value === 'string' && value !== '')
    ) {
      throw new ScacheOptionsError(
        'metrics.dimensions',
        'must be an object of 1 to 30 dimension names to non-empty strings',
      )
    }
    const clash = Object.keys(dimensions).find((name) => reservedNames.has(name))
    if (clash !== undefined)
      throw new ScacheOptionsError(
        'metrics.dimensions',
        `must not use ${JSON.stringify(clash)}, a field of the log line`,
      )
    metrics = { namespace, dimensions: dimensions as Record<string, string> }
  }

  return {
    streamName,
    streamNames: streamNames as string[],
    client: stream.client as KinesisClient | undefined,
    ttl,
    negativeTtl,
    maxEntries,
    maxBytes,
    keyspaces,
    sizeOf: options.sizeOf === undefined ? undefined : fn('sizeOf', options.sizeOf),
    now: clock.now === undefined ? perRunClock() : fn('clock.now', clock.now),
    random,
    pollIntervalMs,
    pollBudgetMs,
    maxStalenessMs,
    onStreamError,
    clockSkewMs,
    decoders: decoders as RecordDecoder[],
    secrets: secrets as string[],
    maxPagesPerShard,
    loadTimeoutMs,
    staleIfErrorMs,
    circuitBreaker,
    warm,
    publisher: publisher as Publisher | undefined,
    metrics,
    metricsSink,
    redactKeys,
    tracer,
    log:
      log === true
        ? writeLine
        : log === false
          ? () => {}
          : typeof log === 'function'
            ? (log as (line: InvocationLog) => void)
            : logThrough(log as LoggerLike),
  }
}
