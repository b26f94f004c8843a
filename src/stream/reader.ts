import type { GetRecordsOutput } from '@aws-sdk/client-kinesis'
import type { InvalidationSource, SourcePosition } from '../source/index.js'
import { consumeRecord } from './consume.js'
import { isTransient, MAX_TRANSIENT_RETRIES, TRANSIENT_RETRY_DELAY_MS } from './errors.js'
import { IDENTITY_CHECK_GAP_MS, UnlistedIdentity } from './identity.js'
import { LeanReadClient } from './lean.js'
import { type ReadClient, sdkReadClient } from './read-client.js'
import { Retention } from './retention.js'
import {
  adoptChildren,
  errorOf,
  hasLiveIterator,
  iteratorOf,
  listShards,
  nameOf,
  newTally,
  Restart,
  readableShards,
  resultOf,
  type ShardState,
  type StartPosition,
  type Tally,
} from './shards.js'
import type { PollOptions, PollResult, StreamReaderOptions } from './types.js'

export type {
  RestartReason,
  SkippedRecord,
  SourceError as StreamError,
} from '../source/index.js'
export type { PollOptions, PollResult, ReadRecord, StreamReaderOptions } from './types.js'

/** GetRecords' own maximum. */
const RECORDS_PER_PAGE = 10_000
/**
 * Decoding is CPU work, during which no timer fires, the poll budget's included: after this much
 * of it, the page's loop gives the event loop a turn, then checks the budget. A poll overruns its
 * budget by at most this, plus one record's decoding (bounded by `recordLimits`).
 */
const YIELD_AFTER_MS = 10
/** Generations of shards followed in one poll (a split of a split of …). */
const MAX_ROUNDS = 8

/**
 * Reads a Kinesis stream from where this container last looked. Per shard it keeps the
 * NextShardIterator and the last sequence number, so a quiet shard never loses its position and
 * an expired iterator is re-acquired right after the last record read. Shards are read in
 * parallel; a closed shard is read to its end before its children.
 *
 * Steady state is one GetRecords per shard per poll: shards are listed once, and again only
 * when one closes without naming its children, or before positions are re-anchored after a gap
 * (which is also when a deleted and recreated stream is recognised).
 *
 * When positions cannot be trusted (idle past the stream's retention, a rejected sequence number,
 * a recreated stream, a backlog past the catch-up budget) it restarts at now and says why: the
 * caller must then empty its cache.
 */
export class StreamReader implements InvalidationSource {
  readonly #options: StreamReaderOptions
  /** The stream read, as given (name or ARN). */
  readonly name: string
  readonly #now: () => number
  readonly #recordsPerPage: number
  /** How the reader's calls are sent (`readPath`). */
  readonly #client: ReadClient
  #shards: Map<string, ShardState> | undefined
  /** Position of shards not yet listed: the cold start, or the last skip or restart. */
  #start: StartPosition
  /**
   * List the shards again: one closed without naming its children, a position is about to be
   * re-anchored, or Kinesis said a resource is gone. Cleared only by a successful listing.
   */
  #needsRelist = false
  /** Every position was readable at this time: nothing after it can have been trimmed since. */
  #positionsAt: number
  /** The stream's retention, from DescribeStreamSummary when a gap needs it, and when it was read. */
  readonly #retention: Retention
  /** This poll restarted at now on a fresh listing, which it keeps (`#anchorAtNow`). */
  #anchored = false
  /** Whether a timestamp position with no shard listed can still be trusted to be this stream. */
  readonly #identity = new UnlistedIdentity()

  constructor(options: StreamReaderOptions) {
    this.#options = options
    this.name = options.stream
    this.#now = options.now ?? Date.now
    this.#recordsPerPage = Math.min(
      RECORDS_PER_PAGE,
      Math.max(1, options.recordsPerPage ?? RECORDS_PER_PAGE),
    )
    this.#positionsAt = this.#now()
    this.#client =
      options.readPath === 'lean'
        ? new LeanReadClient(options.client)
        : sdkReadClient(options.client)
    this.#retention = new Retention(this.#client, options.stream)
    this.#start = {
      type: 'AT_TIMESTAMP',
      at: (options.startAt ?? this.#positionsAt) - options.clockSkewMs,
    }
  }

  /**
   * Moves every position to now without reading. Only valid when the caller holds nothing that
   * an earlier record could invalidate: an empty cache and no load in flight. Iterators issued
   * less than `keepIteratorMs` ago are kept: reading from an older position is always safe, and
   * costs one GetRecords where a new position costs a GetShardIterator more.
   */
  skipToNow(keepIteratorMs: number): void {
    const now = this.#now()
    this.#start = { type: 'AT_TIMESTAMP', at: now - this.#options.clockSkewMs }
    this.#positionsAt = now
    if (this.#shards === undefined) this.#identity.positioned(now)
    for (const shard of this.#shards?.values() ?? []) {
      if (shard.iterator !== undefined && now - shard.iteratorIssuedAt < keepIteratorMs) continue
      shard.iterator = undefined
      shard.sequenceNumber = undefined
      shard.start = this.#start
    }
  }

  /** Positions per shard, for diagnostics. */
  positions(): SourcePosition[] {
    return [...(this.#shards?.values() ?? [])].map((shard) => ({
      shardId: shard.id,
      ...(shard.sequenceNumber === undefined ? {} : { sequenceNumber: shard.sequenceNumber }),
      finished: shard.finished,
    }))
  }

  /** Reads every shard from its position to its tip, applying invalidations as they come. */
  async poll(options: PollOptions): Promise<PollResult> {
    const tally = newTally()
    const startedAt = this.#now()
    const read = new Set<string>()
    this.#anchored = false
    try {
      await this.#retention.check(startedAt - this.#positionsAt, startedAt, tally, options.signal)
      // A new iterator re-anchors a position by sequence number or timestamp, and a stream deleted
      // and recreated under the same name would accept either (as may an old iterator after a
      // long gap): check the stream's identity first. A clock behind the positions' own time
      // stepped back: how long ago they were taken is unknown, so that counts as a long gap.
      const gapMs = startedAt - this.#positionsAt
      const longGap = gapMs >= IDENTITY_CHECK_GAP_MS || gapMs < 0
      if (
        longGap ||
        readableShards(this.#shards).some((shard) => !hasLiveIterator(shard, startedAt))
      ) {
        this.#needsRelist = true
      }
      const unanchored = this.#shards === undefined && this.#identity.doubtful(startedAt)
      // A round reads every readable shard once; a shard that closes makes its children readable
      // in the next round, so a split or merge is followed within the same poll.
      for (let round = 0; tally.restart === undefined; round++) {
        if (this.#shards === undefined || this.#needsRelist) {
          await this.#list(tally, options.signal)
          if (unanchored && round === 0) {
            this.#anchorAtNow()
            tally.restart = 'stream-recreated'
            break
          }
        }
        const readable = readableShards(this.#shards).filter((shard) => !read.has(shard.id))
        if (readable.length === 0) break
        if (round === MAX_ROUNDS) {
          tally.errors.push({
            name: 'ReshardingInProgress',
            message: `${readable.length} shards left for the next poll`,
          })
          break
        }
        for (const shard of readable) read.add(shard.id)
        await Promise.all(readable.map((shard) => this.#readShard(shard, tally, options)))
      }
      if (read.size === 0 && tally.restart === undefined) {
        // A stream always has an open shard: our view of it is out of date.
        this.#needsRelist = true
        tally.errors.push({
          name: 'NoReadableShard',
          message: 'no open shard found; listing again next poll',
        })
      }
    } catch (error) {
      if (error instanceof Restart) tally.restart = error.reason
      else this.#failed(error, tally)
    }
    if (tally.restart !== undefined && !this.#anchored) this.#restart()
    else if (tally.errors.length === 0) this.#positionsAt = startedAt
    return resultOf(tally)
  }

  /** Moves every listed shard to now, as a restart does, but keeps them as the stream's identity. */
  #anchorAtNow(): void {
    const now = this.#now()
    this.#start = { type: 'AT_TIMESTAMP', at: now - this.#options.clockSkewMs }
    for (const shard of this.#shards?.values() ?? []) {
      shard.iterator = undefined
      shard.sequenceNumber = undefined
      shard.start = this.#start
    }
    this.#positionsAt = now
    this.#anchored = true
    this.#identity.listed()
  }

  /** Forgets every shard and position: the next poll lists the shards and reads from now. */
  #restart(): void {
    const now = this.#now()
    this.#start = { type: 'AT_TIMESTAMP', at: now - this.#options.clockSkewMs }
    this.#shards = undefined
    this.#needsRelist = false
    this.#positionsAt = now
    this.#identity.restarted(now)
  }

  #failed(error: unknown, tally: Tally, shardId?: string): void {
    // The stream or a shard is gone (deleted, perhaps recreated): verify before reading on.
    if (nameOf(error) === 'ResourceNotFoundException') {
      this.#needsRelist = true
      // With no shard listed, the stream that comes back cannot be compared with this one.
      if (this.#shards === undefined) this.#identity.missing()
    }
    tally.errors.push(errorOf(error, shardId))
  }

  async #list(tally: Tally, signal: AbortSignal | undefined): Promise<void> {
    this.#shards = await listShards(
      this.#client,
      this.#options.stream,
      this.#shards,
      this.#start,
      tally,
      signal,
    )
    this.#needsRelist = false
  }

  async #readShard(shard: ShardState, tally: Tally, options: PollOptions): Promise<void> {
    tally.shardsPolled++
    let expiredRetries = 0
    let transientRetries = 0
    try {
      for (let page = 0; page < this.#options.maxPagesPerShard; ) {
        const iterator = await iteratorOf(
          this.#client,
          this.#options.stream,
          shard,
          this.#now,
          tally,
          options.signal,
        )
        let response: Partial<GetRecordsOutput>
        const calledAt = this.#now()
        try {
          tally.getRecords++
          response = await this.#client.getRecords(
            { ShardIterator: iterator, Limit: this.#recordsPerPage },
            options.signal,
          )
        } catch (error) {
          const name = nameOf(error)
          // The iterator outlived its 5 minutes (a clock jump, a long freeze mid-poll): resume
          // right after the last record read, once the stream is known to be the same one.
          if (name === 'ExpiredIteratorException' && expiredRetries++ === 0) {
            shard.iterator = undefined
            await this.#list(tally, options.signal)
            continue
          }
          // An iterator Kinesis does not recognise: take a new one, after checking the stream.
          if (name === 'InvalidArgumentException') {
            shard.iterator = undefined
            this.#needsRelist = true
          }
          // A transient failure (5xx, a reset connection) is retried at once, within the poll's
          // budget: a failed poll defers the next and bypasses the cache, which costs far more
          // than one more call. A throttle is not retried: the shard's readers are over its limit,
          // and the backoff is what brings them under it.
          if (isTransient(error, name) && transientRetries++ < MAX_TRANSIENT_RETRIES) {
            const spent = () => options.signal?.aborted === true
            if (!spent()) {
              await new Promise((resolve) => setTimeout(resolve, TRANSIENT_RETRY_DELAY_MS))
              if (!spent()) continue
            }
          }
          throw error
        }
        page++
        const records = response.Records ?? []
        let consumed = 0
        let sliceStartedAt = performance.now()
        for (const record of records) {
          // Checked only after a turn of CPU: a page of cheap records is applied whole, as one
          // that arrives just past the budget always was.
          if (performance.now() - sliceStartedAt >= YIELD_AFTER_MS) {
            await new Promise((resolve) => setTimeout(resolve, 0))
            sliceStartedAt = performance.now()
            if (options.signal?.aborted === true) break
          }
          consumeRecord(this.#options, this.#now, shard, record, tally, options)
          consumed++
        }
        if (consumed < records.length) {
          // The budget ran out midway: the position stays at the last record applied, and the
          // rest is read next poll (after that sequence number, or with this page's iterator).
          if (shard.sequenceNumber !== undefined) shard.iterator = undefined
          throw options.signal?.reason ?? new Error('poll budget spent')
        }
        if (response.NextShardIterator == null) {
          shard.iterator = undefined
          shard.finished = true
          if (response.ChildShards !== undefined && response.ChildShards.length > 0) {
            adoptChildren(this.#shards, response.ChildShards)
          } else {
            this.#needsRelist = true
          }
          return
        }
        // Each NextShardIterator is a new iterator, valid for 5 minutes from this call.
        shard.iterator = response.NextShardIterator
        shard.iteratorIssuedAt = calledAt
        const behindMs = response.MillisBehindLatest ?? 0
        if (behindMs === 0 && records.length < this.#recordsPerPage) return
        // Further behind than the budget allows (beyond the skew margin every timestamp position
        // starts with): reading on would only delay the restart.
        const maxBehindMs =
          (this.#options.maxBehindMs ?? Number.POSITIVE_INFINITY) + this.#options.clockSkewMs
        if (behindMs > maxBehindMs) break
      }
      tally.restart ??= 'behind'
    } catch (error) {
      if (error instanceof Restart) tally.restart ??= error.reason
      else this.#failed(error, tally, shard.id)
    }
  }
}
