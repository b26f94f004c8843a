import { MAX_ENTRIES } from '../../cache/size.js'
import type { LogTableOptions, ScacheOptions, StreamOptions } from './types.js'

/**
 * One option, defined once. Validation reads its range and default from here, and the docs are
 * generated from it (`npm run docs:options`): the option's TSDoc in `types.ts` and the README's
 * configuration and environment tables. A test fails when they drift from this table.
 */
export interface OptionDefinition {
  /** The value's shape, as the docs show it. */
  readonly type: string
  /** The default, as the docs show it. */
  readonly default: string
  /** The environment variable that sets the default, if any; an option given in code wins. */
  readonly env?: string
  /** What the option does (Markdown; the TSDoc and the README's table both show it). */
  readonly doc: string
  /** Sub-options (`stream.name`), defined the same way. */
  readonly fields?: Readonly<Record<string, OptionDefinition>>
}

/** An integer option: its range and default are what validation enforces. */
export interface IntegerDefinition extends OptionDefinition {
  readonly min: number
  readonly max: number
  /** The default value; undefined: off unless given. */
  readonly value: number | undefined
}

const DAY_MS = 86_400_000
/** Lambda's longest invocation, 15 minutes: no load can usefully take longer. */
export const MAX_LOAD_TIMEOUT_MS = 900_000

const integer = <V extends number | undefined>(
  min: number,
  max: number,
  value: V,
  doc: Omit<OptionDefinition, 'type' | 'default'> & { readonly type?: string; default?: string },
): IntegerDefinition & { readonly value: V } => ({
  type: 'integer (ms)',
  default:
    value === undefined ? 'none' : `\`${value.toLocaleString('en-US').replaceAll(',', '_')}\``,
  ...doc,
  min,
  max,
  value,
})

/** The integer options: validated in [min, max], `value` when not given. */
export const integerOptions = {
  maxEntries: integer(1, MAX_ENTRIES, 10_000, {
    type: 'integer',
    doc: "Most entries held. Each entry's slot is allocated when the store is made (about 36 bytes).",
  }),
  maxBytes: integer(1_024, Number.MAX_SAFE_INTEGER, 64 * 1_048_576, {
    type: 'integer (bytes)',
    default: '64 MiB',
    doc:
      'Byte budget by estimated entry size (±20 % of the heap for most values; How it works, ' +
      'Memory, lists the exceptions); least recently used entries (to within a second) go first.',
  }),
  pollIntervalMs: integer(0, DAY_MS, 1_000, {
    env: 'SCACHE_POLL_INTERVAL_MS',
    doc: 'Least time between polls; `0` polls before every request.',
  }),
  pollBudgetMs: integer(10, 60_000, 1_000, {
    env: 'SCACHE_POLL_BUDGET_MS',
    doc: "Time budget of one poll; also at most half the invocation's remaining time.",
  }),
  maxStalenessMs: integer(1, DAY_MS, 10_000, {
    env: 'SCACHE_MAX_STALENESS_MS',
    doc:
      'When the last successful poll is older, the cache is bypassed. At least `pollIntervalMs`. ' +
      'Also the catch-up budget: a shard further behind its tip than this is not read on; the ' +
      'cache is cleared instead.',
  }),
  clockSkewMs: integer(0, 3_600_000, 5_000, {
    doc:
      'Margin for clock skew between this container and Kinesis when a position is a timestamp; ' +
      'a few records may be read twice (harmless).',
  }),
  maxPagesPerShard: integer(1, 1_000, 5, {
    type: 'integer',
    doc:
      'Most `GetRecords` pages read from one shard in one poll; more backlog than that clears ' +
      'the cache and restarts at now.',
  }),
  staleIfErrorMs: integer(0, DAY_MS, 0, {
    default: '`0` (off)',
    doc:
      "Stale-if-error: when a load fails, times out or is refused, serve the key's value if it " +
      'expired less than this long ago; never an invalidated one, never while bypassed. Expired ' +
      'entries are kept this long, within the bounds.',
  }),
  loadTimeoutMs: integer(1, MAX_LOAD_TIMEOUT_MS, 30_000, {
    env: 'SCACHE_LOAD_TIMEOUT_MS',
    doc:
      'Most time a loader (`getOrLoad`, `getOrLoadMany`, the warm-up) may take, and never past ' +
      "the invocation's remaining time: a slower load rejects with `LoadTimeoutError`, and its " +
      "value, if it ever comes, is neither stored nor shared with later callers. A call's " +
      '`timeoutMs` overrides it.',
  }),
} as const satisfies Partial<Record<keyof ScacheOptions, IntegerDefinition>>

export const streamFields = {
  name: {
    type: 'string',
    default: 'none',
    env: 'SCACHE_STREAM_NAME',
    doc: 'Stream name or ARN.',
  },
  names: {
    type: 'string[]',
    default: 'none',
    env: 'SCACHE_STREAM_NAMES',
    doc:
      'Replicated streams, instead of `name` (the variable is comma-separated): writers put ' +
      'every invalidation on each, and each container reads one, picked at random when it ' +
      'starts, and another (its cache cleared) when a poll of it is throttled. K streams give ' +
      "up to K times the read budget. With ARNs, a container reads its region's. Setting both " +
      'variables is an error.',
  },
  client: {
    type: 'KinesisClient',
    default: 'keep-alive HTTP/1.1, 1 s connect and 2 s request timeouts, `maxAttempts: 1`',
    doc: 'Kinesis client, used as given: give it `maxAttempts: 1` (scache has its own backoff).',
  },
  readPath: {
    type: "'sdk' | 'lean'",
    default: "`'lean'`; `'sdk'` with `client`",
    doc: "`'lean'`: scache signs and sends reads with the client's credentials, not its middleware.",
  },
} as const satisfies Record<keyof StreamOptions, OptionDefinition>

export const logTableFields = {
  name: {
    type: 'string',
    default: 'none: read the stream',
    env: 'SCACHE_LOG_TABLE',
    doc:
      'The log table the relay (`createRelay`) appends the stream to. Containers read it ' +
      'instead of the stream, one Query per poll whatever the shard count: for fleets past ' +
      "the stream's read limits. Writers still publish to the stream.",
  },
  copies: {
    type: 'integer',
    default: '`1`',
    env: 'SCACHE_LOG_COPIES',
    doc:
      "Copies of the log, as the relay's `copies`: each container reads one, picked at random " +
      'when it starts. From 1 to 100.',
  },
  client: {
    type: 'DynamoDBClient',
    default: 'keep-alive HTTP/1.1, 1 s connect and 2 s request timeouts, `maxAttempts: 1`',
    doc: 'DynamoDB client for reading the log, used as given.',
  },
} as const satisfies Record<keyof LogTableOptions, OptionDefinition>

/** Every option `scache()` and `createScache()` accept, in the order the docs list them. */
export const optionDefinitions = {
  stream: {
    type: '{ name | names, client? }',
    default: 'from the environment',
    doc: 'The invalidation stream.',
    fields: streamFields,
  },
  logTable: {
    type: '{ name, copies?, client? }',
    default: 'from the environment; none: read the stream',
    doc:
      'Read invalidations from the log table a relay fills from the stream, instead of the ' +
      'stream itself. Staleness then counts from how far the relay has got (each entry says), ' +
      'so `maxStalenessMs` must exceed the heartbeat interval plus the relay lag (docs/log-table.md).',
    fields: logTableFields,
  },
  ttl: {
    type: '{ minMs, maxMs }',
    default: '`{ minMs: 30_000, maxMs: 60_000 }`',
    doc:
      "TTL range of entries, ms. Each entry's TTL is drawn uniformly from it, so entries loaded " +
      'together do not expire together; `minMs == maxMs` for a fixed TTL.',
  },
  negativeTtl: {
    type: '{ minMs, maxMs }',
    default: '`ttl`',
    doc:
      'TTL range of "not found" entries: values `undefined` or `null`, as a loader returns for ' +
      'a missing row. Usually shorter than `ttl`.',
  },
  maxEntries: integerOptions.maxEntries,
  maxBytes: integerOptions.maxBytes,
  keyspaces: {
    type: '{ [name]: { ttl?, negativeTtl?, maxEntries?, maxBytes?, loadRate? } }',
    default: '`{}`',
    doc:
      'Per-keyspace settings; a keyspace is the part of a key before its first `:`. With ' +
      'bounds, a keyspace gets a store and budget of its own (in addition to `maxBytes`); the ' +
      'stores hold at most 2^24 entries in all.',
  },
  sizeOf: {
    type: '(value, key) => bytes',
    default: 'a structural estimate',
    doc:
      'Bytes of a value, when you know better; for values JSON.parse decoded, ' +
      "`(value) => estimateBytes(value, { madeBy: 'json' })`. A value the estimate cannot see " +
      'into (class instance, function, getter, proxy) or `sizeOf` cannot size (throws, ' +
      "non-finite) is not stored. `madeBy: 'json'` counts a plain object of 20 to 127 " +
      'properties as the fast object JSON.parse makes rather than as a hash table, and an array ' +
      'without spare capacity (docs/how-it-works.md, Memory).',
  },
  clock: {
    type: '{ now?, random? }',
    default: '`Date.now` (read once per run of code), `Math.random`',
    doc:
      'Wall clock (ms) and random source behind TTLs, poll scheduling, staleness and the ' +
      'circuit breaker. For simulations and tests in virtual time; a given `now` is called on ' +
      'every read. Leave it unset in a function.',
  },
  pollIntervalMs: integerOptions.pollIntervalMs,
  pollBudgetMs: integerOptions.pollBudgetMs,
  maxStalenessMs: integerOptions.maxStalenessMs,
  onStreamError: {
    type: "'bypass' | 'serve-stale'",
    default: "`'bypass'`",
    env: 'SCACHE_ON_STREAM_ERROR',
    doc:
      "What reads get after a failed poll: `'bypass'` the cache until a poll succeeds, or " +
      "`'serve-stale'` until `maxStalenessMs`.",
  },
  secret: {
    type: 'string | string[]',
    default: 'none',
    env: 'SCACHE_SECRET',
    doc:
      'Shared secret(s) for signed records (HMAC-SHA256, at least 16 characters each): readers ' +
      'apply only scache records signed with one of them, and the default publisher signs with ' +
      'the first. Several allow rotation: add the new secret everywhere, then move it first, ' +
      'then drop the old one. The variable holds one secret.',
  },
  decoders: {
    type: 'RecordDecoder[]',
    default: '`[]`',
    doc:
      "Decoders for other record formats on the stream, tried before scache's own, e.g. " +
      '`[dynamoDbDecoder({ tables })]`. A decoder that throws has its record skipped and ' +
      'counted (`decoder-error`).',
  },
  clockSkewMs: integerOptions.clockSkewMs,
  maxPagesPerShard: integerOptions.maxPagesPerShard,
  staleIfErrorMs: integerOptions.staleIfErrorMs,
  circuitBreaker: {
    type: "{ failures?, resetMs?, scope?: 'keyspace' | 'global' }",
    default: 'none',
    doc:
      'Circuit breakers around loaders: `failures` (5) consecutive failed loads open a circuit ' +
      '(per keyspace, or one global); its loads are refused with `CircuitOpenError` (or served ' +
      'stale-if-error) until, after `resetMs` (10,000), one probe succeeds.',
  },
  loadRate: {
    type: '{ perSecond, burst }',
    default: 'none',
    doc:
      'Token bucket per keyspace for loads (`keyspaces.<name>.loadRate` for one): ' +
      '`burst` at once, then `perSecond`; past it, `LoadRateLimitedError` or stale-if-error.',
  },
  loadTimeoutMs: integerOptions.loadTimeoutMs,
  warm: {
    type: '{ keys, load, timeoutMs? }',
    default: 'none',
    doc:
      'Keys (or a function returning them) loaded at cold start by `load(keys)`, in one batch, ' +
      'as `getOrLoadMany` does: by the first invocation after its first poll, or by ' +
      '`instance.warm()` at module scope during init.',
  },
  publisher: {
    type: 'Publisher',
    default: 'one on the same stream(s)',
    doc: 'The `Publisher` that `invalidate` in handlers uses.',
  },
  metrics: {
    type: 'boolean | { namespace?, dimensions? } | Metrics',
    default: '`false`',
    doc:
      'Write the log line in CloudWatch Embedded Metric Format, so its numbers become metrics ' +
      'with no API call: `true` (namespace `scache`, dimension `FunctionName`), or ' +
      '`{ namespace, dimensions }`. Or a Powertools `Metrics` instance: the numbers are added ' +
      'to it (`scache.hits`, …), and its own middleware publishes them.',
  },
  redactKeys: {
    type: 'boolean',
    default: '`false`',
    env: 'SCACHE_REDACT_KEYS',
    doc:
      'Keys never appear in logs in the clear: error messages (`LoadTimeoutError`, ' +
      '`CircuitOpenError`, `PublishError`) show them, and keyspaces, as short keyed hashes ' +
      '(`redactKey(key)`: HMAC-SHA256 under a key random per process, or `SCACHE_REDACT_KEY`). ' +
      'The variable is `true` or `false`.',
  },
  log: {
    type: 'boolean | (line) => void | Logger',
    default: '`true`',
    doc:
      'Where the per-invocation log line goes: `true` writes one JSON line to stdout, `false` ' +
      'nothing; a function receives the line; a logger with `info` (Powertools `Logger`) ' +
      'writes it as one entry.',
  },
  tracer: {
    type: 'Tracer',
    default: 'none',
    doc:
      'AWS X-Ray: each invocation becomes a `scache` subsegment (with a `scache.poll` child) of ' +
      "the current segment, annotated with the log line's counts. Powertools' `Tracer` fits, " +
      'or any object with `getSegment()` such as `aws-xray-sdk-core`.',
  },
} as const satisfies Record<keyof ScacheOptions, OptionDefinition>

/** The names of every option, for the unknown-option check. */
export const optionNames = Object.keys(optionDefinitions) as (keyof ScacheOptions)[]
