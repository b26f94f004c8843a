import { randomUUID } from 'node:crypto'
import {
  type KinesisClient,
  PutRecordsCommand,
  type PutRecordsRequestEntry,
} from '@aws-sdk/client-kinesis'
import { nonEmpty, streamsFromEnv } from '../env.js'
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
import { createDefaultClient, streamParams } from '../stream/client.js'
import { describe, integer, onlyKnown } from '../validate.js'

/** PutRecords' limits: 500 entries and 5 MiB (data + partition keys) per request. */
const MAX_ENTRIES_PER_REQUEST = 500
const MAX_REQUEST_BYTES = 5 * 1_048_576

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

/** One record Kinesis acknowledged. */
export interface Acknowledged {
  readonly stream: string
  readonly shardId: string
  readonly sequenceNumber: string
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

interface Pending {
  readonly entry: PutRecordsRequestEntry
  readonly invalidation: Invalidation
  readonly bytes: number
}

const validate = (options: PublisherOptions): void => {
  onlyKnown(
    '',
    options,
    [
      'streamName',
      'streamNames',
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
  if (
    options.streamName !== undefined &&
    (typeof options.streamName !== 'string' || options.streamName === '')
  ) {
    throw new ScacheOptionsError(
      'streamName',
      `must be a stream name or ARN (got ${String(options.streamName)})`,
    )
  }
  const names: unknown = options.streamNames
  if (
    names !== undefined &&
    (!Array.isArray(names) ||
      names.length === 0 ||
      !names.every((name) => typeof name === 'string' && name !== '') ||
      options.streamName !== undefined)
  ) {
    throw new ScacheOptionsError(
      'streamNames',
      'must be a non-empty array of stream names or ARNs, given instead of streamName',
    )
  }
  const client: unknown = options.client
  if (
    client !== undefined &&
    (typeof client !== 'object' || client === null || !('send' in client))
  ) {
    throw new ScacheOptionsError('client', 'must be a KinesisClient')
  }
  for (const [name, min, max] of integers) {
    if (options[name] !== undefined) integer(name, options[name], min, max)
  }
}

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

/** Waits `ms`, or less if `signal` aborts first. */
const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer)
      signal.removeEventListener('abort', done)
      resolve()
    }
    const timer = setTimeout(done, ms)
    signal.addEventListener('abort', done, { once: true })
  })

/**
 * `promise`, or a rejection with the abort's reason as soon as `signal` aborts: a client that
 * ignores its `abortSignal` (a custom handler, a hung socket) still cannot hold a publish past
 * its deadline.
 */
const untilAborted = <T>(promise: Promise<T>, signal: AbortSignal): Promise<T> => {
  if (signal.aborted) return Promise.reject(signal.reason)
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason)
    signal.addEventListener('abort', onAbort, { once: true })
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort)
        resolve(value)
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort)
        reject(error)
      },
    )
  })
}

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
  const streams =
    options.streamNames ??
    (options.streamName === undefined ? streamsFromEnv() : [options.streamName]) ??
    []
  if (streams.length === 0 || streams.includes('')) {
    throw new ScacheOptionsError(
      'streamName',
      'is required (or set SCACHE_STREAM_NAME, or SCACHE_STREAM_NAMES for replicas)',
    )
  }
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
  let client = options.client

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

  /** Groups records into PutRecords requests within the per-request limits. */
  const toRequests = (pending: readonly Pending[]): Pending[][] => {
    const requests: Pending[][] = []
    let current: Pending[] = []
    let bytes = 0
    for (const item of pending) {
      if (
        current.length > 0 &&
        (current.length >= MAX_ENTRIES_PER_REQUEST || bytes + item.bytes > MAX_REQUEST_BYTES)
      ) {
        requests.push(current)
        current = []
        bytes = 0
      }
      current.push(item)
      bytes += item.bytes
    }
    if (current.length > 0) requests.push(current)
    return requests
  }

  const backoff = (attempt: number, signal: AbortSignal): Promise<void> =>
    sleep(Math.random() * Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1)), signal)

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
    let sent: PromiseSettledResult<Awaited<ReturnType<typeof send>>>[]
    try {
      try {
        client ??= createDefaultClient({ maxAttempts: 3 })
      } catch (error) {
        throw new PublishError(
          invalidation,
          [errorName(error)],
          { cause: error },
          streams,
          options.redactKeys === true,
        )
      }
      sent = await Promise.allSettled(
        streams.map((stream, index) => send(stream, perStream[index] ?? [], deadline.signal)),
      )
    } finally {
      clearTimeout(timer)
      call.signal?.removeEventListener('abort', forward)
    }
    const failures = sent.flatMap((result, index) =>
      result.status === 'rejected'
        ? [{ stream: streams[index] as string, error: result.reason }]
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
        failures.map(({ stream }) => stream),
        options.redactKeys === true,
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

  /** Puts `pending` on one stream, retrying what Kinesis fails; rejects naming what it could not. */
  const send = async (
    stream: string,
    pending: readonly Pending[],
    signal: AbortSignal,
  ): Promise<{ requests: number; retriedEntries: number; acknowledged: Acknowledged[] }> => {
    const kinesis = client ?? createDefaultClient({ maxAttempts: 3 })
    let remaining = pending
    let requests = 0
    let retriedEntries = 0
    const acknowledged: Acknowledged[] = []
    const errorCodes = new Set<string>()
    let lastError: unknown
    for (let attempt = 1; attempt <= maxAttempts && remaining.length > 0; attempt++) {
      if (attempt > 1) await backoff(attempt - 1, signal)
      if (signal.aborted) break
      const failed: Pending[] = []
      for (const batch of toRequests(remaining)) {
        if (signal.aborted) {
          failed.push(...batch)
          continue
        }
        requests++
        try {
          const response = await untilAborted(
            kinesis.send(
              new PutRecordsCommand({
                ...streamParams(stream),
                Records: batch.map((item) => item.entry),
              }),
              { abortSignal: signal },
            ),
            signal,
          )
          const results = response.Records ?? []
          batch.forEach((item, index) => {
            const result = results[index]
            // A missing result is treated as a failure: only an acknowledged record counts.
            if (result?.SequenceNumber === undefined || result.ErrorCode !== undefined) {
              errorCodes.add(result?.ErrorCode ?? 'MissingResult')
              failed.push(item)
            } else {
              acknowledged.push({
                stream,
                shardId: result.ShardId ?? '',
                sequenceNumber: result.SequenceNumber,
              })
            }
          })
        } catch (error) {
          // Aborted mid-call, the SDK's AbortError says less than the deadline that caused it.
          lastError = signal.aborted ? signal.reason : error
          errorCodes.add(errorName(lastError))
          failed.push(...batch)
        }
      }
      if (attempt > 1) retriedEntries += remaining.length - failed.length
      remaining = failed
    }
    if (remaining.length > 0) {
      if (signal.aborted && lastError !== signal.reason) {
        lastError = signal.reason
        errorCodes.add(errorName(signal.reason))
      }
      throw new PublishError(
        {
          keys: remaining.flatMap((item) => item.invalidation.keys),
          prefixes: remaining.flatMap((item) => item.invalidation.prefixes),
          tags: remaining.flatMap((item) => item.invalidation.tags ?? []),
          patterns: remaining.flatMap((item) => item.invalidation.patterns ?? []),
          all: remaining.some((item) => item.invalidation.all),
        },
        [...errorCodes],
        lastError === undefined ? undefined : { cause: lastError },
        [stream],
        options.redactKeys === true,
      )
    }
    return { requests, retriedEntries, acknowledged }
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
