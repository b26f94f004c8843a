import type { DynamoDBClient } from '@aws-sdk/client-dynamodb'
import type { KinesisClient } from '@aws-sdk/client-kinesis'
import { hasOwnStore } from '../../cache/index.js'
import { MAX_TOTAL_ENTRIES, maxEntriesOption } from '../../cache/size.js'
import { booleanFromEnv, integerFromEnv, nonEmpty, streamsFromEnv } from '../../env.js'
import { ScacheOptionsError } from '../../errors.js'
import type { Publisher } from '../../publish/index.js'
import type { RecordDecoder } from '../../record/index.js'
import { arnRegion } from '../../stream/client.js'
import {
  type InvocationLog,
  isLogger,
  isMetrics,
  isTracer,
  type LoggerLike,
  logThrough,
  serializeLine,
} from '../../telemetry/index.js'
import { describe, integer, isObject, onlyKnown } from '../../validate.js'
import { perRunClock } from '../clock.js'
import type { LoadRateOptions } from '../rate-limit.js'
import { type IntegerDefinition, integerOptions, optionNames } from './definitions.js'
import {
  circuitBreakerOption,
  fn,
  keyspacesOption,
  loadRateOption,
  metricsOption,
  toList,
  ttlRange,
  warmOption,
} from './parse.js'
import type { ResolvedOptions } from './types.js'

/** The defaults of the options that have one, as `optionDefinitions` states them. */
export const defaults = {
  ttl: { minMs: 30_000, maxMs: 60_000 },
  maxEntries: integerOptions.maxEntries.value,
  maxBytes: integerOptions.maxBytes.value,
  pollIntervalMs: integerOptions.pollIntervalMs.value,
  pollBudgetMs: integerOptions.pollBudgetMs.value,
  maxStalenessMs: integerOptions.maxStalenessMs.value,
  onStreamError: 'bypass',
  clockSkewMs: integerOptions.clockSkewMs.value,
  maxPagesPerShard: integerOptions.maxPagesPerShard.value,
} as const

/** An integer option: given in code, else from its environment variable, else its default. */
const integerOption = (options: Record<string, unknown>, name: keyof typeof integerOptions) => {
  const definition: IntegerDefinition = integerOptions[name]
  const fromEnv = definition.env === undefined ? undefined : integerFromEnv(definition.env)
  const value = options[name] ?? fromEnv ?? definition.value
  if (value === undefined) return undefined
  const path = options[name] === undefined && fromEnv !== undefined ? definition.env : name
  return integer(path ?? name, value, definition.min, definition.max)
}

const required = (value: number | undefined): number => {
  if (value === undefined) throw new Error('scache: an option with a default has none')
  return value
}

const writeLine = (line: InvocationLog): void => {
  // The same text as JSON.stringify, in a fraction of its time (see serializeLine).
  process.stdout.write(`${serializeLine(line)}\n`)
}

/** The log table read instead of the stream, if any (given in code, else from the environment). */
const resolveLogTable = (given: unknown, random: () => number): ResolvedOptions['logTable'] => {
  const value = given ?? {}
  if (!isObject(value))
    throw new ScacheOptionsError(
      'logTable',
      `must be { name, copies?, client? } (got ${describe(value)})`,
    )
  onlyKnown('logTable', value, ['name', 'copies', 'client'])
  const name = value.name ?? nonEmpty(process.env.SCACHE_LOG_TABLE)
  if (name === undefined) {
    if (given !== undefined) throw new ScacheOptionsError('logTable.name', 'is required')
    return undefined
  }
  if (typeof name !== 'string' || name === '')
    throw new ScacheOptionsError('logTable.name', `must be a table name (got ${describe(name)})`)
  const fromEnv = value.copies === undefined ? integerFromEnv('SCACHE_LOG_COPIES') : undefined
  const copies = integer(
    value.copies === undefined && fromEnv !== undefined ? 'SCACHE_LOG_COPIES' : 'logTable.copies',
    value.copies ?? fromEnv ?? 1,
    1,
    100,
  )
  const client = value.client
  if (client !== undefined && (!isObject(client) || typeof client.send !== 'function'))
    throw new ScacheOptionsError('logTable.client', 'must be a DynamoDBClient')
  return {
    name,
    // Each container reads one copy: the relay writes them all.
    copy: Math.floor(random() * copies),
    ...(client === undefined ? {} : { client: client as unknown as DynamoDBClient }),
  }
}

/**
 * Where scache says something is wrong with the set-up (once per container, not per invocation):
 * a logger's `error` when the log goes through one, else one JSON line on stderr, whatever `log`
 * says, since a function that cannot cache should not be quiet about it.
 */
const writeErrorLine: ResolvedOptions['logError'] = (message, fields) => {
  process.stderr.write(`${JSON.stringify({ level: 'ERROR', message, ...fields })}\n`)
}

const errorLogOf = (log: unknown): ResolvedOptions['logError'] => {
  if (isLogger(log)) {
    const error = (log as { error?: unknown }).error
    if (typeof error === 'function')
      return (message, fields) =>
        (error as (m: string, f: object) => void).call(log, message, fields)
  }
  return writeErrorLine
}

/** Validates every option once, at construction, and fills in the defaults. */
export const resolveOptions = (input: unknown): ResolvedOptions => {
  const options = input ?? {}
  if (!isObject(options))
    throw new ScacheOptionsError('options', `must be an object (got ${describe(options)})`)
  onlyKnown('', options, optionNames)

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
  onlyKnown('stream', stream, ['name', 'names', 'client', 'readPath'])
  if (stream.name !== undefined && stream.names !== undefined)
    throw new ScacheOptionsError('stream.names', 'is given instead of stream.name, not with it')
  const names = stream.names ?? (stream.name === undefined ? streamsFromEnv() : undefined)
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
  const streamNames = (names as string[] | undefined) ?? [stream.name]
  // Each container reads one of the replicas of its own region; writers write to all.
  const readable = localStreams(streamNames as string[])
  const streamName = readable[Math.floor(random() * readable.length)]
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
  const readPath = stream.readPath ?? (stream.client === undefined ? 'lean' : 'sdk')
  if (readPath !== 'sdk' && readPath !== 'lean')
    throw new ScacheOptionsError(
      'stream.readPath',
      `must be 'sdk' or 'lean' (got ${describe(readPath)})`,
    )
  // The lean path signs with the client's resolved configuration: a client double has none.
  const config = isObject(stream.client) ? stream.client.config : undefined
  if (
    readPath === 'lean' &&
    stream.client !== undefined &&
    !(
      isObject(config) &&
      typeof config.signer === 'function' &&
      typeof config.endpointProvider === 'function'
    )
  )
    throw new ScacheOptionsError(
      'stream.readPath',
      "'lean' needs a KinesisClient of @aws-sdk/client-kinesis (its signer and endpoint rules)",
    )

  const logTable = resolveLogTable(options.logTable, random)

  const ttl = options.ttl === undefined ? defaults.ttl : ttlRange('ttl', options.ttl)
  const negativeTtl =
    options.negativeTtl === undefined ? undefined : ttlRange('negativeTtl', options.negativeTtl)
  const maxEntries = maxEntriesOption('maxEntries', options.maxEntries ?? defaults.maxEntries)
  const maxBytes = required(integerOption(options, 'maxBytes'))

  const keyspaces = keyspacesOption(options.keyspaces)
  let totalEntries = maxEntries
  for (const keyspace of Object.values(keyspaces))
    if (hasOwnStore(keyspace)) totalEntries += keyspace.maxEntries ?? maxEntries
  if (totalEntries > MAX_TOTAL_ENTRIES) {
    throw new ScacheOptionsError(
      'keyspaces',
      `the stores may hold at most ${MAX_TOTAL_ENTRIES} entries in all (maxEntries and each keyspace with a store of its own), the most a V8 Map holds (got ${totalEntries})`,
    )
  }

  const pollIntervalMs = required(integerOption(options, 'pollIntervalMs'))
  const pollBudgetMs = required(integerOption(options, 'pollBudgetMs'))
  const maxStalenessMs = required(integerOption(options, 'maxStalenessMs'))
  if (maxStalenessMs < pollIntervalMs) {
    throw new ScacheOptionsError(
      'maxStalenessMs',
      `must be at least pollIntervalMs (${pollIntervalMs}), or every poll interval would bypass the cache (got ${maxStalenessMs})`,
    )
  }
  const onStreamError =
    options.onStreamError ?? nonEmpty(process.env.SCACHE_ON_STREAM_ERROR) ?? defaults.onStreamError
  if (onStreamError !== 'bypass' && onStreamError !== 'serve-stale') {
    throw new ScacheOptionsError(
      options.onStreamError === undefined ? 'SCACHE_ON_STREAM_ERROR' : 'onStreamError',
      `must be 'bypass' or 'serve-stale' (got ${describe(onStreamError)})`,
    )
  }
  const clockSkewMs = required(integerOption(options, 'clockSkewMs'))
  const maxPagesPerShard = required(integerOption(options, 'maxPagesPerShard'))
  const loadTimeoutMs = required(integerOption(options, 'loadTimeoutMs'))

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

  const secretFromEnv = nonEmpty(process.env.SCACHE_SECRET)
  const secret = options.secret ?? secretFromEnv
  const secrets = secret === undefined ? [] : toList(secret)
  if (
    (secrets.length === 0 && secret !== undefined) ||
    !secrets.every((each) => typeof each === 'string' && each.length >= 16)
  ) {
    throw new ScacheOptionsError(
      options.secret === undefined ? 'SCACHE_SECRET' : 'secret',
      'must be a string of at least 16 characters, or a non-empty array of them',
    )
  }

  const staleIfErrorMs = required(integerOption(options, 'staleIfErrorMs'))

  const circuitBreaker = circuitBreakerOption(options.circuitBreaker)

  const byKeyspace = new Map<string, LoadRateOptions>()
  for (const [name, keyspace] of Object.entries(keyspaces))
    if (keyspace.loadRate !== undefined) byKeyspace.set(name, keyspace.loadRate)
  const loadRates = {
    default:
      options.loadRate === undefined ? undefined : loadRateOption('loadRate', options.loadRate),
    byKeyspace,
  }

  const warm = warmOption(options.warm)

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

  const redactKeys = options.redactKeys ?? booleanFromEnv('SCACHE_REDACT_KEYS') ?? false
  if (typeof redactKeys !== 'boolean')
    throw new ScacheOptionsError('redactKeys', `must be a boolean (got ${describe(redactKeys)})`)

  const tracer = options.tracer
  if (tracer !== undefined && !isTracer(tracer))
    throw new ScacheOptionsError(
      'tracer',
      `must be a tracer with getSegment(), such as Powertools' Tracer (got ${describe(tracer)})`,
    )

  const metricsSink = isMetrics(options.metrics) ? options.metrics : undefined
  const metrics = metricsSink === undefined ? metricsOption(options.metrics) : undefined

  return {
    streamName,
    streamNames: streamNames as string[],
    client: stream.client as KinesisClient | undefined,
    readPath,
    logTable,
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
    loadRates,
    warm,
    publisher: publisher as Publisher | undefined,
    metrics,
    metricsSink,
    redactKeys,
    tracer,
    logError: errorLogOf(log),
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

/**
 * The streams a container may read: with stream ARNs in several regions (a multi-region
 * publisher's list, the same in every region's stack), those of the container's own region
 * (`AWS_REGION`, set by Lambda) and plain names; otherwise all of them.
 */
const localStreams = (names: readonly string[]): readonly string[] => {
  const regions = new Set(names.map(arnRegion).filter((region) => region !== undefined))
  if (regions.size <= 1) return names
  const home = nonEmpty(process.env.AWS_REGION)
  const local = names.filter((name) => {
    const region = arnRegion(name)
    return region === undefined || region === home
  })
  if (local.length === 0)
    throw new ScacheOptionsError(
      'stream.names',
      `names streams in ${[...regions].join(', ')} but none in this container's region (AWS_REGION ${home ?? 'unset'}): a container reads a stream of its own region`,
    )
  return local
}
