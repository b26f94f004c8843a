import { randomUUID } from 'node:crypto'
import type { KinesisClient } from '@aws-sdk/client-kinesis'
import { nonEmpty } from '../env.js'
import {
  errorName,
  InvalidKeyError,
  PublishError,
  redactKey,
  ScacheOptionsError,
} from '../errors.js'
import {
  encodeRecord,
  type Invalidation,
  keyProblem,
  recordLimits,
  tagProblem,
} from '../record/index.js'
import { patternProblem } from '../record/pattern.js'
import { describe, integer, onlyKnown } from '../validate.js'
import { type Acknowledged, type Pending, putRecords, type Sent } from './put.js'
import { resolveDestinations, type StreamTarget, validateStreams } from './streams.js'

export type { Acknowledged } from './put.js'
export type { StreamTarget } from './streams.js'

export interface PublisherOptions {
  /** Stream name or ARN. Default: `SCACHE_STREAM_NAME`. */
  readonly streamName?: string
  /**
   * Kinesis client, used as given. Default: a keep-alive HTTP/1.1 client with tight timeouts and
   * 3 SDK attempts, configured from the environment.
   */
  readonly client?: KinesisClient
  /** Attempts for entries Kinesis fails (`FailedRecordCount`) or requests that throw. Default 5. */
  readonly maxAttempts?: number
  /** First retry delay, ms; doubles each attempt with full jitter. Default 50. */
  readonly baseDelayMs?: number
  /** Longest retry delay, ms. Default 1,000. */
  readonly maxDelayMs?: number
  /** Most keys, prefixes, tags or patterns in one record. Default 1,000. */
  readonly maxKeysPerRecord?: number
  /** Largest record, bytes. Default 256 KiB (Kinesis allows 1 MiB). */
  readonly maxRecordBytes?: number
  /**
   * Replicated streams: every invalidation is written to each of these (and a publish resolves
   * only once all acknowledged it), so that each reader can read just one. Instead of
   * `streamName`.
   */
  readonly streamNames?: readonly string[]
  /**
   * Streams in one or more regions, each with its own client: every invalidation is written to
   * each, and a publish resolves only once every region acknowledged it (`PublishError` names the
   * regions and streams that missed). Instead of `streamName` or `streamNames`.
   */
  readonly streams?: readonly StreamTarget[]
  /** Name keys in `PublishError` messages by hash only (`failedKeys` keeps them). Default false. */
  readonly redactKeys?: boolean
  /** Signs every record (HMAC-SHA256) for readers that require signed records. Default: unsigned. */
  readonly secret?: string
  /**
   * Longest a publish may take, ms, retries and backoff included; then it rejects with a
   * `PublishError` naming what was not acknowledged (`errorCodes` has `TimeoutError`). A call can
   * shorten it (`PublishCallOptions`). Default 3,000; at most 30,000, which keeps every attempt
   * inside the window readers accept a signed record in (`signedRecordWindow`).
   */
  readonly timeoutMs?: number
}

/**
 * Per call: what bounds it besides the publisher's `timeoutMs`, e.g. the invocation's remaining
 * time (`{ timeoutMs: context.getRemainingTimeInMillis() - 500 }`) or the caller's AbortSignal.
 * Either way, the publish rejects with a `PublishError` naming what was not acknowledged.
 */
export interface PublishCallOptions {
  /** This call's budget, ms, when shorter than the publisher's `timeoutMs`. */
  readonly timeoutMs?: number
  /** Aborts the publish (`errorCodes` has the reason's name, `AbortError` by default). */
  readonly signal?: AbortSignal
}

/** What a publish acknowledged. */
export interface PublishResult {
  readonly records: number
  readonly requests: number
  /** Entries Kinesis failed at first and accepted on a retry. */
  readonly retriedEntries: number
  /** Where each record was stored: per stream, its shard and sequence number. */
  readonly acknowledged: readonly Acknowledged[]
}

export interface Publisher {
  /** Publishes the eviction of these keys; resolves once Kinesis acknowledged every record. */
  invalidate(keys: string | readonly string[], options?: PublishCallOptions): Promise<PublishResult>
  /** Publishes the eviction of every key starting with these prefixes. */
  invalidatePrefix(
    prefixes: string | readonly string[],
    options?: PublishCallOptions,
  ): Promise<PublishResult>
  /**
   * Publishes the eviction of every entry stored with one of these tags (`set(key, value, { tags
   * })`). Tag records are version 3: readers that do not know it evict everything.
   */
  invalidateTags(
    tags: string | readonly string[],
    options?: PublishCallOptions,
  ): Promise<PublishResult>
  /**
   * Publishes the eviction of every key matching one of these patterns: `*` stands for any run of
   * characters within one `:`-separated segment (`users:*:profile`). Version 3 records, as tags.
   */
  invalidatePattern(
    patterns: string | readonly string[],
    options?: PublishCallOptions,
  ): Promise<PublishResult>
  /** Publishes the eviction of everything. */
  invalidateAll(options?: PublishCallOptions): Promise<PublishResult>
  /** Publishes one combined invalidation. */
  publish(invalidation: Partial<Invalidation>, options?: PublishCallOptions): Promise<PublishResult>
}

const validate = (options: PublisherOptions): void => {
  onlyKnown(
    '',
    options,
    [
      'streamName',
      'streamNames',
      'streams',
      'client',
      'maxAttempts',
      'baseDelayMs',
      'maxDelayMs',
      'maxKeysPerRecord',
      'maxRecordBytes',
      'secret',
      'redactKeys',
      'timeoutMs',
    ],
    'a publisher option',
  )
  if (
    options.secret !== undefined &&
    (typeof options.secret !== 'string' || options.secret.length < 16)
  )
    throw new ScacheOptionsError('secret', 'must be a string of at least 16 characters')
  const integers: [keyof PublisherOptions, number, number][] = [
    ['maxAttempts', 1, 20],
    // A signed record must reach Kinesis within a minute of its `at` (signedRecordWindow).
    ['timeoutMs', 1, 30_000],
    ['baseDelayMs', 1, 60_000],
    ['maxDelayMs', 1, 60_000],
    ['maxKeysPerRecord', 1, recordLimits.maxKeysPerRecord],
    // The longest key, JSON-escaped at 6 bytes a character, must fit in one record.
    ['maxRecordBytes', 8_192, recordLimits.maxRecordBytes],
  ]
  validateStreams(options)
  for (const [name, min, max] of integers) {
    if (options[name] !== undefined) integer(name, options[name], min, max)
  }
}

/** The regions of `destinations` that are known, each once. */
const regionsOf = (destinations: readonly { region: string | undefined }[]): string[] => [
  ...new Set(destinations.flatMap(({ region }) => (region === undefined ? [] : [region]))),
]

/** The fields `publish` takes; anything else is a caller's mistake, not something to ignore. */
const INVALIDATION_FIELDS = ['keys', 'prefixes', 'tags', 'patterns', 'all']

/** The lists of an invalidation, and the call that publishes each alone. */
type ListKind = 'keys' | 'prefixes' | 'tags' | 'patterns'
const CALL_OF: Record<ListKind, string> = {
  keys: 'invalidate',
  prefixes: 'invalidatePrefix',
  tags: 'invalidateTags',
  patterns: 'invalidatePattern',
}

/**
 * `input` as an invalidation, or an InvalidKeyError saying what is wrong with it. The types say
 * as much, but JavaScript callers get no types: `{ keys: 'users:42' }` would be iterated as the
 * keys `u`, `s`, …, and `{ all: 'true' }` would publish nothing and resolve.
 */
const checkInvalidation = (input: unknown, redact: boolean): Invalidation => {
  if (typeof input !== 'object' || input === null || Array.isArray(input))
    throw new InvalidKeyError(
      `publish() takes { keys?, prefixes?, tags?, patterns?, all? } (got ${Array.isArray(input) ? 'an array' : describe(input)})`,
    )
  for (const field of Object.keys(input)) {
    if (!INVALIDATION_FIELDS.includes(field))
      throw new InvalidKeyError(
        `publish(): ${JSON.stringify(field)} is not a field of an invalidation (known: ${INVALIDATION_FIELDS.join(', ')})`,
      )
  }
  const fields = input as Record<string, unknown>
  const list = (kind: ListKind): string[] => {
    const value = fields[kind]
    if (value === undefined) return []
    if (!Array.isArray(value))
      throw new InvalidKeyError(
        `publish(): ${kind} must be an array of strings (got ${typeof value === 'string' ? 'a string: for one, pass [it]' : describe(value)})`,
      )
    return [...new Set(value as string[])]
  }
  const keys = list('keys')
  const prefixes = list('prefixes')
  const tags = list('tags')
  const patterns = list('patterns')
  if (fields.all !== undefined && typeof fields.all !== 'boolean')
    throw new InvalidKeyError(`publish(): all must be a boolean (got ${describe(fields.all)})`)
  checkEntries('key', keys, redact)
  checkEntries('prefix', prefixes, redact)
  checkEntries('tag', tags, redact)
  checkEntries('pattern', patterns, redact)
  return { keys, prefixes, all: fields.all === true, tags, patterns }
}

/** One key, prefix, tag or pattern, or many: what `invalidate` and its kin take. */
const checkList = (kind: ListKind, value: unknown): readonly string[] => {
  if (typeof value === 'string') return [value]
  if (Array.isArray(value)) return value
  throw new InvalidKeyError(
    `${CALL_OF[kind]}() takes a string or an array of strings (got ${describe(value)})`,
  )
}

const PROBLEM_OF = { key: keyProblem, prefix: keyProblem, tag: tagProblem, pattern: patternProblem }

const checkEntries = (
  kind: keyof typeof PROBLEM_OF,
  entries: readonly string[],
  redact: boolean,
): void => {
  for (const entry of entries) {
    const problem = PROBLEM_OF[kind](entry)
    if (problem !== undefined) {
      const shown = redact && typeof entry === 'string' ? redactKey(entry) : JSON.stringify(entry)
      throw new InvalidKeyError(`${kind} ${shown} ${problem}`)
    }
  }
}

/** One key or prefix, or many, as a list. */
export const toArray = (value: string | readonly string[]): readonly string[] =>
  typeof value === 'string' ? [value] : value

const checkCallOptions = (options: unknown): PublishCallOptions => {
  if (options === undefined) return {}
  if (typeof options !== 'object' || options === null)
    throw new InvalidKeyError(
      `publish options must be { timeoutMs?, signal? } (got ${describe(options)})`,
    )
  const { timeoutMs, signal } = options as Record<string, unknown>
  if (timeoutMs !== undefined && (typeof timeoutMs !== 'number' || Number.isNaN(timeoutMs)))
    throw new InvalidKeyError(
      `publish option timeoutMs must be a number (got ${describe(timeoutMs)})`,
    )
  if (signal !== undefined && !(signal instanceof AbortSignal))
    throw new InvalidKeyError('publish option signal must be an AbortSignal')
  return options as PublishCallOptions
}

/**
 * Creates a publisher of invalidations. Keys are packed many to a record and records many to a
 * PutRecords request, within Kinesis' limits. Entries Kinesis fails are retried with exponential
 * backoff; a publish resolves only when every record was acknowledged, and otherwise rejects with
 * a `PublishError` naming the keys, prefixes or invalidate-all that were not published.
 */
export const createPublisher = (options: PublisherOptions = {}): Publisher => {
  validate(options)
  // The environment, read by the one rule the middleware and the CLI follow (src/env.ts).
  const destinations = resolveDestinations(options)
  const streams = destinations.map((destination) => destination.stream)
  const secretFromEnv = nonEmpty(process.env.SCACHE_SECRET)
  if (options.secret === undefined && secretFromEnv !== undefined && secretFromEnv.length < 16)
    throw new ScacheOptionsError('SCACHE_SECRET', 'must be a string of at least 16 characters')
  const secret = options.secret ?? secretFromEnv
  const maxAttempts = options.maxAttempts ?? 5
  const baseDelayMs = options.baseDelayMs ?? 50
  const maxDelayMs = options.maxDelayMs ?? 1_000
  const maxKeysPerRecord = options.maxKeysPerRecord ?? 1_000
  const maxRecordBytes = options.maxRecordBytes ?? 262_144
  const timeoutMs = options.timeoutMs ?? 3_000

  /** Splits an invalidation into records within the per-record limits. */
  const toRecords = (invalidation: Invalidation, at: number, stream: string): Pending[] => {
    const pending: Pending[] = []
    const push = (part: Invalidation): void => {
      const data = encodeRecord(part, at, secret, stream)
      // A random partition key spreads records over every shard: readers read all of them anyway.
      const partitionKey = randomUUID()
      pending.push({
        entry: { Data: data, PartitionKey: partitionKey },
        invalidation: part,
        bytes: data.byteLength + partitionKey.length,
      })
    }
    if (invalidation.all) push({ keys: [], prefixes: [], all: true })
    const none: Invalidation = { keys: [], prefixes: [], all: false }
    const only = (kind: ListKind, batch: readonly string[]): Invalidation => ({
      ...none,
      [kind]: batch,
    })
    for (const kind of ['keys', 'prefixes', 'tags', 'patterns'] as const) {
      // A record's size without its list (a version 3 record, with tags or patterns, is larger:
      // its fields and a second signature), plus a character.
      const emptyBytes = encodeRecord(
        kind === 'tags' || kind === 'patterns' ? only(kind, ['']) : none,
        at,
        secret,
        stream,
      ).byteLength
      let batch: string[] = []
      let bytes = emptyBytes
      for (const item of invalidation[kind] ?? []) {
        // JSON-escaped size plus a comma; exact enough to stay under the cap.
        const itemBytes = Buffer.byteLength(JSON.stringify(item)) + 1
        if (
          batch.length > 0 &&
          (batch.length >= maxKeysPerRecord || bytes + itemBytes > maxRecordBytes)
        ) {
          push(only(kind, batch))
          batch = []
          bytes = emptyBytes
        }
        batch.push(item)
        bytes += itemBytes
      }
      if (batch.length > 0) push(only(kind, batch))
    }
    return pending
  }

  const publish = async (
    input: Partial<Invalidation>,
    callOptions?: PublishCallOptions,
  ): Promise<PublishResult> => {
    const invalidation = checkInvalidation(input, options.redactKeys === true)
    const call = checkCallOptions(callOptions)
    const at = Date.now()
    // Signed, each stream's records are its own: the signature covers the stream's name, so that
    // a copy put on another stream sharing the secret does not verify there.
    const perStream = streams.map((stream) => toRecords(invalidation, at, stream))
    const pending = perStream[0] ?? []
    if (pending.length === 0)
      return { records: 0, requests: 0, retriedEntries: 0, acknowledged: [] }
    // One deadline for the whole publish, every stream, attempt and backoff: the shorter of the
    // publisher's budget and the caller's, or the caller's signal.
    const budgetMs = Math.max(0, Math.min(timeoutMs, call.timeoutMs ?? timeoutMs))
    const deadline = new AbortController()
    const timer = setTimeout(
      () =>
        deadline.abort(
          new DOMException(`publish took longer than its budget (${budgetMs} ms)`, 'TimeoutError'),
        ),
      budgetMs,
    )
    const forward = (): void => deadline.abort(call.signal?.reason)
    if (call.signal?.aborted === true) forward()
    else call.signal?.addEventListener('abort', forward, { once: true })
    let sent: PromiseSettledResult<Sent>[]
    try {
      try {
        for (const destination of destinations) destination.client()
      } catch (error) {
        throw new PublishError(
          invalidation,
          [errorName(error)],
          { cause: error },
          streams,
          options.redactKeys === true,
          regionsOf(destinations),
        )
      }
      const settings = {
        maxAttempts,
        baseDelayMs,
        maxDelayMs,
        redactKeys: options.redactKeys === true,
      }
      sent = await Promise.allSettled(
        destinations.map((destination, index) =>
          putRecords(destination, perStream[index] ?? [], deadline.signal, settings),
        ),
      )
    } finally {
      clearTimeout(timer)
      call.signal?.removeEventListener('abort', forward)
    }
    const failures = sent.flatMap((result, index) =>
      result.status === 'rejected'
        ? [
            {
              destination: destinations[index] as (typeof destinations)[number],
              error: result.reason,
            },
          ]
        : [],
    )
    if (failures.length > 0) {
      const errors = failures.map(({ error }) => error)
      if (streams.length === 1) throw errors[0]
      const published = errors.filter(
        (error): error is PublishError => error instanceof PublishError,
      )
      if (published.length < errors.length)
        throw errors.find((error) => !(error instanceof PublishError))
      // Every key that missed any stream: a reader of that stream would miss it.
      throw new PublishError(
        {
          keys: [...new Set(published.flatMap((error) => error.failedKeys))],
          prefixes: [...new Set(published.flatMap((error) => error.failedPrefixes))],
          tags: [...new Set(published.flatMap((error) => error.failedTags))],
          patterns: [...new Set(published.flatMap((error) => error.failedPatterns))],
          all: published.some((error) => error.failedAll),
        },
        [...new Set(published.flatMap((error) => error.errorCodes))],
        { cause: errors.length === 1 ? errors[0] : new AggregateError(errors) },
        failures.map(({ destination }) => destination.stream),
        options.redactKeys === true,
        regionsOf(failures.map(({ destination }) => destination)),
      )
    }
    const results = sent.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []))
    return {
      records: perStream.reduce((sum, records) => sum + records.length, 0),
      requests: results.reduce((sum, result) => sum + result.requests, 0),
      retriedEntries: results.reduce((sum, result) => sum + result.retriedEntries, 0),
      acknowledged: results.flatMap((result) => result.acknowledged),
    }
  }

  return {
    publish,
    invalidate: async (keys, call) => publish({ keys: checkList('keys', keys) }, call),
    invalidatePrefix: async (prefixes, call) =>
      publish({ prefixes: checkList('prefixes', prefixes) }, call),
    invalidateTags: async (tags, call) => publish({ tags: checkList('tags', tags) }, call),
    invalidatePattern: async (patterns, call) =>
      publish({ patterns: checkList('patterns', patterns) }, call),
    invalidateAll: (call) => publish({ all: true }, call),
  }
}
