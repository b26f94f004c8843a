import type { SkippedRecord, SourcePollResult } from '../source/index.js'
import {
  type ClearReason,
  type InvocationLog,
  InvocationLogRecord,
  round,
  type WarmReport,
} from '../telemetry/index.js'
import type { CacheStats } from './types.js'

/** What one invocation did with the cache: the request cache and the loads count into it. */
export interface Counters {
  hits: number
  misses: number
  bypassed: number
  savedMs: number
  loads: number
  loadMs: number
  loadTimeouts: number
  staleIfError: number
  circuitOpen: number
  loadRateLimited: number
  evicted: number
  /** Polls made after the invocation began, by reads that found one due. */
  repolls: number
  cleared: ClearReason | undefined
}

export const newCounters = (): Counters => ({
  hits: 0,
  misses: 0,
  bypassed: 0,
  savedMs: 0,
  loads: 0,
  loadMs: 0,
  loadTimeouts: 0,
  staleIfError: 0,
  circuitOpen: 0,
  loadRateLimited: 0,
  evicted: 0,
  repolls: 0,
  cleared: undefined,
})

/** What `begin` learnt before the handler ran, for the log line `end` writes. */
export interface InvocationStart {
  readonly requestId: string | undefined
  readonly streamMs: number
  readonly poll: SourcePollResult | undefined
  readonly pollSkipped: boolean
  /** The invocation waited for a poll another one ran. */
  readonly pollJoined: boolean
  readonly deferred: boolean
  readonly stalenessMs: number
  /** Only when this poll left the container backing off. */
  readonly backoffMs: number | undefined
  /** The cold start's warm-up, on the first invocation's line only. */
  readonly warmed: WarmReport | undefined
  readonly skipped: readonly SkippedRecord[]
}

type Writable<T> = { -readonly [K in keyof T]: T[K] }

/**
 * The invocation's log line: what it started with, what its handler did, and the cache after.
 * Built field by field rather than with spreads: the same few shapes every invocation, each
 * optional field only when it says something.
 */
export const logLine = (
  start: InvocationStart,
  counters: Counters,
  cache: { readonly size: number; readonly bytes: number },
  error: boolean,
): InvocationLog => {
  const { poll, streamMs, warmed, skipped, backoffMs } = start
  let streamCalls = 0
  if (poll !== undefined) for (const calls of Object.values(poll.calls)) streamCalls += calls
  const line = new InvocationLogRecord() as Writable<InvocationLog>
  line.message = 'scache'
  if (start.requestId !== undefined) line.requestId = start.requestId
  line.streamMs = round(streamMs)
  line.savedMs = round(counters.savedMs)
  line.netMs = round(counters.savedMs - streamMs)
  line.hits = counters.hits
  line.misses = counters.misses
  line.bypassed = counters.bypassed
  line.loads = counters.loads
  line.loadMs = round(counters.loadMs)
  if (warmed !== undefined) line.warm = warmed
  if (counters.loadTimeouts !== 0) line.loadTimeouts = counters.loadTimeouts
  if (counters.staleIfError !== 0) line.staleIfError = counters.staleIfError
  if (counters.circuitOpen !== 0) line.circuitOpen = counters.circuitOpen
  if (counters.loadRateLimited !== 0) line.loadRateLimited = counters.loadRateLimited
  if (counters.repolls !== 0) line.repolls = counters.repolls
  line.evicted = counters.evicted
  line.records = poll?.records ?? 0
  line.skippedRecords = poll?.skippedRecords ?? 0
  if (skipped.length !== 0) line.skipped = skipped
  line.shardsPolled = poll?.shardsPolled ?? 0
  line.streamCalls = streamCalls
  line.pollSkipped = start.pollSkipped
  line.polled = poll !== undefined
  if (start.pollJoined) line.pollJoined = true
  line.stalenessMs = round(start.stalenessMs)
  const firstError = poll?.errors[0]
  if (firstError !== undefined) line.streamError = `${firstError.name}: ${firstError.message}`
  if (poll?.throttled === true) line.throttled = true
  if (backoffMs !== undefined) line.backoffMs = round(backoffMs)
  if (start.deferred) line.pollDeferred = true
  if (counters.cleared !== undefined) line.cleared = counters.cleared
  line.entries = cache.size
  line.bytes = cache.bytes
  if (error) line.handlerError = true
  return line
}

/** The counting part of `stats()`: every log line since the cold start, added up. */
export type TotalsSnapshot = Pick<
  CacheStats,
  | 'invocations'
  | 'hits'
  | 'misses'
  | 'hitRatio'
  | 'bypassed'
  | 'loads'
  | 'loadMs'
  | 'savedMs'
  | 'streamMs'
  | 'polls'
  | 'failedPolls'
  | 'records'
  | 'skippedRecords'
  | 'evicted'
  | 'clears'
>

/** A container's totals since its cold start. */
export class Totals {
  invocations = 0
  hits = 0
  misses = 0
  bypassed = 0
  loads = 0
  loadMs = 0
  savedMs = 0
  streamMs = 0
  polls = 0
  failedPolls = 0
  records = 0
  skippedRecords = 0
  evicted = 0
  readonly clears: Partial<Record<ClearReason, number>> = {}

  add(line: InvocationLog, poll: SourcePollResult | undefined): void {
    this.invocations++
    this.hits += line.hits
    this.misses += line.misses
    this.bypassed += line.bypassed
    this.loads += line.loads
    this.loadMs += line.loadMs
    this.savedMs += line.savedMs
    this.streamMs += line.streamMs
    this.records += line.records
    this.skippedRecords += line.skippedRecords
    this.evicted += line.evicted
    if (poll !== undefined) {
      this.polls++
      if (!poll.ok && poll.restarted === undefined) this.failedPolls++
    }
    if (line.cleared !== undefined) this.clears[line.cleared] = (this.clears[line.cleared] ?? 0) + 1
  }

  snapshot(): TotalsSnapshot {
    const reads = this.hits + this.misses
    return {
      invocations: this.invocations,
      hits: this.hits,
      misses: this.misses,
      hitRatio: reads === 0 ? 0 : this.hits / reads,
      bypassed: this.bypassed,
      loads: this.loads,
      loadMs: round(this.loadMs),
      savedMs: round(this.savedMs),
      streamMs: round(this.streamMs),
      polls: this.polls,
      failedPolls: this.failedPolls,
      records: this.records,
      skippedRecords: this.skippedRecords,
      evicted: this.evicted,
      clears: { ...this.clears },
    }
  }
}
