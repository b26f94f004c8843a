import type { PutRecordsRequestEntry } from '@aws-sdk/client-kinesis'
import { PutRecordsCommand } from '@aws-sdk/client-kinesis'
import { errorName, PublishError } from '../errors.js'
import type { Invalidation } from '../record/index.js'
import { streamParams } from '../stream/client.js'
import type { Destination } from './streams.js'

/** PutRecords' limits: 500 entries and 5 MiB (data + partition keys) per request. */
const MAX_ENTRIES_PER_REQUEST = 500
const MAX_REQUEST_BYTES = 5 * 1_048_576

/** One record to put, and what it invalidates (for the error naming what was not published). */
export interface Pending {
  readonly entry: PutRecordsRequestEntry
  readonly invalidation: Invalidation
  readonly bytes: number
}

/** One record Kinesis acknowledged. */
export interface Acknowledged {
  readonly stream: string
  /** The stream's region, when the publisher knows it (`streams[].region` or the ARN's). */
  readonly region?: string
  readonly shardId: string
  readonly sequenceNumber: string
}

/** What one stream acknowledged. */
export interface Sent {
  readonly requests: number
  readonly retriedEntries: number
  readonly acknowledged: Acknowledged[]
}

/** How `putRecords` retries. */
export interface RetrySettings {
  readonly maxAttempts: number
  readonly baseDelayMs: number
  readonly maxDelayMs: number
  readonly redactKeys: boolean
}

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

/**
 * Puts `pending` on one stream, retrying what Kinesis fails with exponential backoff and full
 * jitter until `signal` aborts; rejects with a `PublishError` naming what it could not put.
 */
export const putRecords = async (
  destination: Destination,
  pending: readonly Pending[],
  signal: AbortSignal,
  settings: RetrySettings,
): Promise<Sent> => {
  const { stream, region } = destination
  const kinesis = destination.client()
  const backoff = (attempt: number): Promise<void> =>
    sleep(
      Math.random() * Math.min(settings.maxDelayMs, settings.baseDelayMs * 2 ** (attempt - 1)),
      signal,
    )
  let remaining = pending
  let requests = 0
  let retriedEntries = 0
  const acknowledged: Acknowledged[] = []
  const errorCodes = new Set<string>()
  let lastError: unknown
  for (let attempt = 1; attempt <= settings.maxAttempts && remaining.length > 0; attempt++) {
    if (attempt > 1) await backoff(attempt - 1)
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
              ...(region === undefined ? {} : { region }),
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
      settings.redactKeys,
      region === undefined ? [] : [region],
    )
  }
  return { requests, retriedEntries, acknowledged }
}
