import type { RestartReason, SkippedRecord } from '../stream/index.js'

/**
 * Why the cache was emptied during an invocation: an invalidate-all record or call; a pattern
 * starting with `*` with more candidates than a record may test (`pattern-limit`); a throttled reader of replicated streams moved to another
 * (`replica-switched`); or the stream reader restarted at now because it could not vouch for its
 * positions (`behind`, `retention`, `position-lost`, `stream-recreated`).
 */
export type ClearReason = 'invalidate-all' | 'pattern-limit' | 'replica-switched' | RestartReason

/** What the cold start's warm-up did: keys asked for, values loaded, time taken, any failure. */
export interface WarmReport {
  readonly keys: number
  readonly loaded: number
  readonly ms: number
  /** The warm-up failed (`Name: message`); requests go on with a cold cache. */
  readonly error?: string
}

/**
 * The one structured line scache writes per invocation. Durations in ms, rounded to 0.01.
 * `netMs` = `savedMs` − `streamMs`: positive when the cache paid for its stream reads.
 */
export interface InvocationLog {
  readonly message: 'scache'
  readonly requestId?: string
  /** Time this invocation spent on the stream: its own poll, or waiting for one it joined. */
  readonly streamMs: number
  /** Sum of the recorded load costs of the entries served from cache. */
  readonly savedMs: number
  readonly netMs: number
  readonly hits: number
  readonly misses: number
  /** Reads that skipped the cache because the stream could not be trusted (staleness bound). */
  readonly bypassed: number
  /** Loads run by `getOrLoad`, and their total time. */
  readonly loads: number
  readonly loadMs: number
  /** The cold start's warm-up (`warm` option), on the first invocation's line. */
  readonly warm?: WarmReport
  /** Loads refused because their circuit was open (`circuitBreaker`). */
  readonly circuitOpen?: number
  /** Loads refused because their keyspace was over its `loadRate`. */
  readonly loadRateLimited?: number
  /** Failed loads answered with the key's expired value (`staleIfErrorMs`). */
  readonly staleIfError?: number
  /** Loads given up after their timeout (`LoadTimeoutError`). */
  readonly loadTimeouts?: number
  /**
   * Polls made during the invocation, after the one before it: a `getOrLoad` found the poll
   * interval passed, so a long invocation's later reads are as fresh as its first.
   */
  readonly repolls?: number
  /** Entries evicted by invalidations: from the stream and from this handler. */
  readonly evicted: number
  readonly records: number
  readonly skippedRecords: number
  /** Up to 10 of the skipped records: where they are and why; never their content. */
  readonly skipped?: readonly SkippedRecord[]
  readonly shardsPolled: number
  /** Kinesis calls made: GetRecords, GetShardIterator, ListShards, DescribeStreamSummary. */
  readonly streamCalls: number
  /** `true` when nothing was cached, so the stream was not read at all. */
  readonly pollSkipped: boolean
  /** A poll was due and this invocation ran it (successfully or not). */
  readonly polled: boolean
  /**
   * A poll was due and another invocation in the same environment was running one (Lambda
   * Managed Instances): this one waited for it (`streamMs`), and its records, calls, evictions
   * and errors are on that invocation's line, not this one's.
   */
  readonly pollJoined?: boolean
  /** Age of the last successful poll when the request started. */
  readonly stalenessMs: number
  /** The poll failed: the first error, as `Name: message`. */
  readonly streamError?: string
  /** Kinesis throttled the poll. */
  readonly throttled?: boolean
  /** Set while failed polls back off: the delay before this container polls again. */
  readonly backoffMs?: number
  /**
   * A poll was due but held back by the backoff: reads were treated as after a failed poll
   * (`onStreamError`).
   */
  readonly pollDeferred?: boolean
  readonly cleared?: ClearReason
  /** Entries and estimated bytes held after the invocation. */
  readonly entries: number
  readonly bytes: number
  /** The handler threw. */
  readonly handlerError?: boolean
}

export const round = (ms: number): number => Math.round(ms * 100) / 100
