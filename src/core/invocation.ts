import type { SkippedRecord, SourcePollResult } from '../source/index.js'
import { type ClearReason, type InvocationLog, round, type WarmReport } from '../telemetry/index.js'
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
  readonly deferred: boolean
  readonly stalenessMs: number
  /** Only when this poll left the container backing off. */
  readonly backoffMs: number | undefined
  /** The cold start's warm-up, on the first invocation's line only. */
  readonly warmed: WarmReport | undefined
  readonly skipped: readonly SkippedRecord[]
}

/** The invocation's log line: what it started with, what its handler did, and the cache after. */
export const logLine = (
  start: InvocationStart,
  counters: Counters,
  cache: { readonly size: number; readonly bytes: number },
  error: boolean,
): InvocationLog => {
  const { poll, streamMs, warmed, skipped, backoffMs } = start
  let streamCalls = 0
  if (poll !== undefined) for (const calls of Object.values(poll.calls)) streamCalls += calls
  return {
    message: 'scache',
    ...(start.requestId === undefined ? {} : { requestId: start.requestId }),
    streamMs: round(streamMs),
    savedMs: round(counters.savedMs),
    netMs: round(counters.savedMs - streamMs),
    hits: counters.hits,
    misses: counters.misses,
    bypassed: counters.bypassed,
    loads: counters.loads,
    loadMs: round(counters.loadMs),
    ...(warmed === undefined ? {} : { warm: warmed }),
    ...(counters.loadTimeouts === 0 ? {} : { loadTimeouts: counters.loadTimeouts }),
    ...(counters.staleIfError === 0 ? {} : { staleIfError: counters.staleIfError }),
    ...(counters.circuitOpen === 0 ? {} : { circuitOpen: counters.circuitOpen }),
    ...(counters.repolls === 0 ? {} : { repolls: counters.repolls }),
    evicted: counters.evicted,
    records: poll?.records ?? 0,
    skippedRecords: poll?.skippedRecords ?? 0,
    ...(skipped.length === 0 ? {} : { skipped }),
    shardsPolled: poll?.shardsPolled ?? 0,
    streamCalls,
    pollSkipped: start.pollSkipped,
    polled: poll !== undefined,
    stalenessMs: round(start.stalenessMs),
    ...(poll?.errors[0] === undefined
      ? {}
      : { streamError: `${poll.errors[0].name}: ${poll.errors[0].message}` }),
    ...(poll?.throttled === true ? { throttled: true } : {}),
    ...(backoffMs === undefined ? {} : { backoffMs: round(backoffMs) }),
    ...(start.deferred ? { pollDeferred: true } : {}),
    ...(counters.cleared === undefined ? {} : { cleared: counters.cleared }),
    entries: cache.size,
    bytes: cache.bytes,
    ...(error ? { handlerError: true } : {}),
  }
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
