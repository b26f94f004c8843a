import type { Invalidation, SkipReason } from '../record/index.js'

/**
 * Where a container learns what changed elsewhere. The engine (`Scache`) polls a source before
 * requests and evicts what it reports; it knows nothing of Kinesis. The Kinesis stream reader is
 * one source; a second (a log table read with one query per poll) plugs in behind the same
 * interface without touching the engine.
 *
 * The contract a source keeps, which the engine's consistency rests on:
 * - `poll` hands every invalidation written since its position to `apply` before it moves its
 *   position past it, so a poll that fails midway loses nothing: the next one re-reads.
 * - When it cannot vouch for its position (a gap past retention, a trimmed or unknown position,
 *   a recreated stream, a backlog over budget) it moves to now and says why (`restarted`): the
 *   engine must then empty its cache.
 * - `skipToNow` is only called when nothing cached could be invalidated by what it skips.
 */
export interface InvalidationSource {
  /** What is read (a stream name or ARN, a table), for diagnostics. */
  readonly name: string
  /** Reads everything written since the position, applying it; never rejects. */
  poll(options: SourcePollOptions): Promise<SourcePollResult>
  /**
   * Moves the position to now without reading. Positions younger than `keepPositionMs` may be
   * kept: reading from an older position is always safe, and may be cheaper than a new one.
   */
  skipToNow(keepPositionMs: number): void
  /** Where the source stands, per partition (a shard, a log copy), for diagnostics. */
  positions(): readonly SourcePosition[]
}

export interface SourcePollOptions {
  /** Called for each decoded invalidation, before the position moves past its record. */
  readonly apply: (invalidation: Invalidation) => void
  /** Called for each record that is not a valid invalidation. It has been counted and passed. */
  readonly onSkip?: (skip: SkippedRecord) => void
  /** The poll's time budget: aborts in-flight calls, and stops between records. */
  readonly signal?: AbortSignal
}

/**
 * Why a source gave up its position and restarted at now. The caller must empty its cache:
 * - `behind`: more backlog than the catch-up budget;
 * - `retention`: idle longer than records are kept, so some may be gone unread;
 * - `position-lost`: the position was rejected (trimmed, or from another stream);
 * - `stream-recreated`: the stream was deleted and created again under the same name, or could
 *   have been with nothing to tell (no partition listed yet, and a long or unknown gap).
 */
export type RestartReason = 'behind' | 'retention' | 'position-lost' | 'stream-recreated'

export interface SkippedRecord {
  /** The partition the record was read from (a shard id). */
  readonly shardId: string
  readonly sequenceNumber: string
  readonly reason: SkipReason
}

export interface SourceError {
  readonly shardId?: string
  readonly name: string
  readonly message: string
}

export interface SourcePosition {
  readonly shardId: string
  readonly sequenceNumber?: string
  readonly finished: boolean
}

export interface SourcePollResult {
  /** Every partition was read to its tip (or to the page cap) without error. */
  readonly ok: boolean
  readonly records: number
  readonly skippedRecords: number
  /** Entries dropped from otherwise valid records (invalid keys). */
  readonly droppedEntries: number
  readonly invalidations: number
  /** Partitions read (shards, log copies). */
  readonly shardsPolled: number
  /** The position could not be trusted and moved to now: the caller must empty its cache. */
  readonly restarted?: RestartReason
  /**
   * The source reflects the writers' changes only up to this time (wall clock ms), when it lags
   * behind them: a log table fed by a relay. The engine counts the cache's staleness from here
   * rather than from the poll's start. Undefined: as of the poll's start.
   */
  readonly syncedTo?: number
  /** The backend refused a call over its limits: the caller backs off (and may move replica). */
  readonly throttled: boolean
  /** Calls made to the backend, by operation (`getRecords`, `query`, …). */
  readonly calls: Readonly<Record<string, number>>
  readonly errors: readonly SourceError[]
}
