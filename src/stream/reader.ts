import {
  type _Record,
  type ChildShard,
  DescribeStreamSummaryCommand,
  GetRecordsCommand,
  type GetRecordsCommandOutput,
  GetShardIteratorCommand,
  type GetShardIteratorCommandOutput,
  type KinesisClient,
  ListShardsCommand,
  type Shard,
} from '@aws-sdk/client-kinesis'
import { describeError } from '../errors.js'
import {
  type DecodeResult,
  decodeEncoded,
  type EncodedRecord,
  encodedRecord,
  type RecordDecoder,
} from '../record/index.js'
import type {
  InvalidationSource,
  RestartReason,
  SourceError,
  SourcePollOptions,
  SourcePollResult,
  SourcePosition,
} from '../source/index.js'
import { streamParams } from './client.js'

export type {
  RestartReason,
  SkippedRecord,
  SourceError as StreamError,
} from '../source/index.js'

/** Kinesis expires a shard iterator 5 minutes after issuing it; re-acquire a little earlier. */
const ITERATOR_MAX_AGE_MS = 5 * 60_000 - 15_000
/** GetRecords' own maximum. */
const RECORDS_PER_PAGE = 10_000
/** Generations of shards followed in one poll (a split of a split of …). */
const MAX_ROUNDS = 8
/** Kinesis keeps records at least 24 hours; a shorter gap never needs the stream's retention. */
const MIN_RETENTION_MS = 24 * 3_600_000
/** A gap this close to the retention period is treated as past it: trimming is not instantaneous. */
const RETENTION_MARGIN_MS = 10 * 60_000
/** The retention read is reused for this long (a gap rarely needs it twice), then read again. */
const RETENTION_CACHE_MS = 3_600_000
/**
 * After this long without a successful poll, the stream's identity is checked before reading:
 * a stream cannot be deleted and created again faster, and a reader polling more often sees the
 * deletion itself (ResourceNotFoundException).
 */
const IDENTITY_CHECK_GAP_MS = 60_000

/** Kinesis' answers to a reader over its share of a shard's (or the account's) limits. */
const THROTTLES = new Set(['ProvisionedThroughputExceededException', 'LimitExceededException'])

export interface StreamReaderOptions {
  /** Stream name or ARN. */
  readonly stream: string
  readonly client: KinesisClient
  /**
   * Margin subtracted from timestamps used as positions. AT_TIMESTAMP compares the server's
   * arrival time with our clock; re-reading a few records is harmless, missing one is not.
   */
  readonly clockSkewMs: number
  /** Most GetRecords pages read from one shard in one poll. */
  readonly maxPagesPerShard: number
  /**
   * A shard further behind its tip than this, beyond the `clockSkewMs` margin (`MillisBehindLatest`
   * after a page), is not read on: the reader restarts at now. Default: no limit but the page cap.
   */
  readonly maxBehindMs?: number
  /** Only records signed with one of these are applied (scache's own format). Default: none. */
  readonly secrets?: readonly string[]
  /** Decoders tried before scache's own format (e.g. `dynamoDbDecoder`). Default none. */
  readonly decoders?: readonly RecordDecoder[]
  /** `Limit` of each GetRecords call. Default 10,000, Kinesis' maximum. */
  readonly recordsPerPage?: number
  /**
   * Where a new reader's positions start, wall clock ms (less `clockSkewMs`), for a tool that
   * reads a stream's past. Only the first positions: a restart is always at now. Default: now.
   */
  readonly startAt?: number
  /** Wall clock, ms. */
  readonly now?: () => number
}

export interface PollOptions extends SourcePollOptions {
  /** Called for every record read, valid or not, after `apply` or `onSkip`: for tools that show them. */
  readonly onRecord?: (record: ReadRecord) => void
}

/** One record as the reader read it: where it is, when it arrived, its bytes and what they said. */
export interface ReadRecord extends EncodedRecord {
  readonly shardId: string
  readonly sequenceNumber: string
  /** Kinesis' `ApproximateArrivalTimestamp`, ms since the epoch. */
  readonly arrivedAt: number | undefined
  readonly decoded: DecodeResult
}

export interface PollResult extends SourcePollResult {
  readonly calls: {
    readonly getRecords: number
    readonly getShardIterator: number
    readonly listShards: number
    readonly describeStreamSummary: number
  }
}

/** Where a shard is read from when it has no iterator and no sequence number yet. */
type StartPosition =
  | { readonly type: 'AT_TIMESTAMP'; readonly at: number }
  | { readonly type: 'TRIM_HORIZON' }

interface ShardState {
  readonly id: string
  readonly parentIds: readonly string[]
  /** From ListShards: a shard of the same id with another first sequence number is another stream's. */
  startingSequenceNumber: string | undefined
  iterator: string | undefined
  iteratorIssuedAt: number
  /** Last record read: the position that survives an expired iterator. */
  sequenceNumber: string | undefined
  start: StartPosition
  /** A closed shard read to its end. */
  finished: boolean
}

interface Tally {
  records: number
  skippedRecords: number
  droppedEntries: number
  invalidations: number
  shardsPolled: number
  restart: RestartReason | undefined
  getRecords: number
  getShardIterator: number
  listShards: number
  describeStreamSummary: number
  errors: SourceError[]
}

/** Thrown inside a poll when the positions cannot be trusted; ends the poll. */
class Restart extends Error {
  constructor(readonly reason: RestartReason) {
    super(reason)
  }
}

const errorOf = (error: unknown, shardId?: string): SourceError => {
  const { name, message } = describeError(error)
  return shardId === undefined ? { name, message } : { shardId, name, message }
}

const nameOf = (error: unknown): string => (error instanceof Error ? error.name : '')

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
  #retention: { readonly ms: number; readonly readAt: number } | undefined
  /** This poll restarted at now on a fresh listing, which it keeps (`#anchorAtNow`). */
  #anchored = false
  /** The stream was not found before any shard was listed: it may come back as another one. */
  #seenMissing = false
  /**
   * When a skip or a restart last moved positions to a timestamp with no shard listed: values
   * cached since rest on that timestamp alone.
   */
  #unlistedSince: number | undefined

  constructor(options: StreamReaderOptions) {
    this.#options = options
    this.name = options.stream
    this.#now = options.now ?? Date.now
    this.#recordsPerPage = Math.min(
      RECORDS_PER_PAGE,
      Math.max(1, options.recordsPerPage ?? RECORDS_PER_PAGE),
    )
    this.#positionsAt = this.#now()
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
    if (this.#shards === undefined) this.#unlistedSince = now
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
    const tally: Tally = {
      records: 0,
      skippedRecords: 0,
      droppedEntries: 0,
      invalidations: 0,
      shardsPolled: 0,
      restart: undefined,
      getRecords: 0,
      getShardIterator: 0,
      listShards: 0,
      describeStreamSummary: 0,
      errors: [],
    }
    const startedAt = this.#now()
    const read = new Set<string>()
    this.#anchored = false
    try {
      await this.#checkRetention(startedAt, tally, options.signal)
      // A new iterator re-anchors a position by sequence number or timestamp, and a stream deleted
      // and recreated under the same name would accept either (as may an old iterator after a
      // long gap): check the stream's identity first. A clock behind the positions' own time
      // stepped back: how long ago they were taken is unknown, so that counts as a long gap.
      const gapMs = startedAt - this.#positionsAt
      const longGap = gapMs >= IDENTITY_CHECK_GAP_MS || gapMs < 0
      if (longGap || this.#readable().some((shard) => !this.#hasLiveIterator(shard, startedAt))) {
        this.#needsRelist = true
      }
      // No shard listed yet (a cold start, or since a restart): the position is a timestamp, and
      // there is no shard to recognise the stream by. After a gap long enough for the stream to
      // have been deleted and created again, the timestamp may point into another stream, past
      // what was written to the old one: start at now, keeping this listing as the identity
      // later polls check.
      const unlistedMs =
        this.#unlistedSince === undefined ? undefined : startedAt - this.#unlistedSince
      const unanchored =
        this.#shards === undefined &&
        unlistedMs !== undefined &&
        (unlistedMs >= IDENTITY_CHECK_GAP_MS || unlistedMs < 0 || this.#seenMissing)
      // A round reads every readable shard once; a shard that closes makes its children readable
      // in the next round, so a split or merge is followed within the same poll.
      for (let round = 0; tally.restart === undefined; round++) {
        if (this.#shards === undefined || this.#needsRelist) {
          await this.#listShards(tally, options.signal)
          if (unanchored && round === 0) {
            this.#anchorAtNow()
            tally.restart = 'stream-recreated'
            break
          }
        }
        const readable = this.#readable().filter((shard) => !read.has(shard.id))
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
    return {
      ok: tally.errors.length === 0,
      records: tally.records,
      skippedRecords: tally.skippedRecords,
      droppedEntries: tally.droppedEntries,
      invalidations: tally.invalidations,
      shardsPolled: tally.shardsPolled,
      ...(tally.restart === undefined ? {} : { restarted: tally.restart }),
      throttled: tally.errors.some((error) => THROTTLES.has(error.name)),
      calls: {
        getRecords: tally.getRecords,
        getShardIterator: tally.getShardIterator,
        listShards: tally.listShards,
        describeStreamSummary: tally.describeStreamSummary,
      },
      errors: tally.errors,
    }
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
    this.#seenMissing = false
    this.#unlistedSince = undefined
  }

  /** Forgets every shard and position: the next poll lists the shards and reads from now. */
  #restart(): void {
    const now = this.#now()
    this.#start = { type: 'AT_TIMESTAMP', at: now - this.#options.clockSkewMs }
    this.#shards = undefined
    this.#needsRelist = false
    this.#seenMissing = false
    this.#positionsAt = now
    this.#unlistedSince = now
  }

  #failed(error: unknown, tally: Tally, shardId?: string): void {
    // The stream or a shard is gone (deleted, perhaps recreated): verify before reading on.
    if (nameOf(error) === 'ResourceNotFoundException') {
      this.#needsRelist = true
      // With no shard listed, the stream that comes back cannot be compared with this one.
      if (this.#shards === undefined) this.#seenMissing = true
    }
    tally.errors.push(errorOf(error, shardId))
  }

  /**
   * After a gap longer than the stream keeps records, records after our positions may have been
   * trimmed unread. The retention is read only when a gap reaches the 24-hour minimum, and reused
   * for an hour (it can be decreased at any time).
   */
  async #checkRetention(now: number, tally: Tally, signal: AbortSignal | undefined) {
    const gap = now - this.#positionsAt
    if (gap < MIN_RETENTION_MS - RETENTION_MARGIN_MS) return
    if (this.#retention === undefined || now - this.#retention.readAt >= RETENTION_CACHE_MS) {
      this.#retention = undefined
      tally.describeStreamSummary++
      try {
        const { StreamDescriptionSummary: summary } = await this.#options.client.send(
          new DescribeStreamSummaryCommand(streamParams(this.#options.stream)),
          { abortSignal: signal },
        )
        const hours = summary?.RetentionPeriodHours
        if (typeof hours === 'number' && hours >= 24)
          this.#retention = { ms: hours * 3_600_000, readAt: now }
      } catch {
        // Unknown retention: assume the minimum, which at worst clears a cache that was fine.
      }
    }
    if (gap >= (this.#retention?.ms ?? MIN_RETENTION_MS) - RETENTION_MARGIN_MS)
      throw new Restart('retention')
  }

  /** Open shards, and closed ones not yet read to their end, whose parents have been. */
  #readable(): ShardState[] {
    const shards = this.#shards ?? new Map<string, ShardState>()
    return [...shards.values()].filter(
      (shard) =>
        !shard.finished &&
        shard.parentIds.every((parentId) => shards.get(parentId)?.finished ?? true),
    )
  }

  #hasLiveIterator(shard: ShardState, now: number): boolean {
    return shard.iterator !== undefined && now - shard.iteratorIssuedAt < ITERATOR_MAX_AGE_MS
  }

  async #listShards(tally: Tally, signal: AbortSignal | undefined): Promise<void> {
    const listed: Shard[] = []
    let nextToken: string | undefined
    do {
      tally.listShards++
      const page = await this.#options.client.send(
        new ListShardsCommand(
          nextToken === undefined ? streamParams(this.#options.stream) : { NextToken: nextToken },
        ),
        { abortSignal: signal },
      )
      listed.push(...(page.Shards ?? []))
      nextToken = page.NextToken
    } while (nextToken !== undefined)
    const known = this.#shards
    const shards = new Map<string, ShardState>()
    for (const shard of listed) {
      if (shard.ShardId === undefined) continue
      const starting = shard.SequenceNumberRange?.StartingSequenceNumber
      const previous = known?.get(shard.ShardId)
      if (previous !== undefined) {
        // Shard ids restart at shardId-000000000000 in a new stream; sequence numbers do not.
        if (
          previous.startingSequenceNumber !== undefined &&
          starting !== undefined &&
          previous.startingSequenceNumber !== starting
        ) {
          throw new Restart('stream-recreated')
        }
        previous.startingSequenceNumber ??= starting
        shards.set(shard.ShardId, previous)
        continue
      }
      const parentIds = [shard.ParentShardId, shard.AdjacentParentShardId].filter(
        (id): id is string => id !== undefined,
      )
      const state = this.#newShard(
        shard.ShardId,
        parentIds,
        known === undefined ? this.#start : this.#childStart(parentIds),
      )
      state.startingSequenceNumber = starting
      shards.set(shard.ShardId, state)
    }
    for (const [id, shard] of known ?? []) {
      if (shards.has(id)) continue
      // A shard still being read left the listing: trimmed past retention, or its stream is gone.
      if (!shard.finished) throw new Restart('position-lost')
      // A parent past retention drops out of the listing; it is kept so that its children stay
      // readable.
      shards.set(id, shard)
    }
    this.#shards = shards
    this.#needsRelist = false
  }

  #newShard(id: string, parentIds: readonly string[], start: StartPosition): ShardState {
    return {
      id,
      parentIds,
      startingSequenceNumber: undefined,
      iterator: undefined,
      iteratorIssuedAt: 0,
      sequenceNumber: undefined,
      start,
      finished: false,
    }
  }

  #adoptChildren(children: readonly ChildShard[]): void {
    const shards = this.#shards
    if (shards === undefined) return
    for (const child of children) {
      if (child.ShardId === undefined || shards.has(child.ShardId)) continue
      const parentIds = child.ParentShards ?? []
      shards.set(
        child.ShardId,
        this.#newShard(child.ShardId, parentIds, this.#childStart(parentIds)),
      )
    }
  }

  /**
   * Where a new shard is read from. Records reach a child only after its parents closed, so its
   * start is safe; but when every parent was positioned at a timestamp (the cold start or a
   * skip), nothing older than that is needed, and reading from it spares a backlog.
   */
  #childStart(parentIds: readonly string[]): StartPosition {
    const parents = parentIds.map((id) => this.#shards?.get(id))
    let at = Number.POSITIVE_INFINITY
    for (const parent of parents) {
      if (
        parent === undefined ||
        parent.sequenceNumber !== undefined ||
        parent.start.type !== 'AT_TIMESTAMP'
      ) {
        return { type: 'TRIM_HORIZON' }
      }
      at = Math.min(at, parent.start.at)
    }
    return parents.length === 0 ? { type: 'TRIM_HORIZON' } : { type: 'AT_TIMESTAMP', at }
  }

  async #iterator(
    shard: ShardState,
    tally: Tally,
    signal: AbortSignal | undefined,
  ): Promise<string> {
    if (shard.iterator !== undefined && this.#hasLiveIterator(shard, this.#now())) {
      return shard.iterator
    }
    const position =
      shard.sequenceNumber !== undefined
        ? {
            ShardIteratorType: 'AFTER_SEQUENCE_NUMBER' as const,
            StartingSequenceNumber: shard.sequenceNumber,
          }
        : shard.start.type === 'AT_TIMESTAMP'
          ? { ShardIteratorType: 'AT_TIMESTAMP' as const, Timestamp: new Date(shard.start.at) }
          : { ShardIteratorType: 'TRIM_HORIZON' as const }
    tally.getShardIterator++
    const issuedAt = this.#now()
    let response: GetShardIteratorCommandOutput
    try {
      response = await this.#options.client.send(
        new GetShardIteratorCommand({
          ...streamParams(this.#options.stream),
          ShardId: shard.id,
          ...position,
        }),
        { abortSignal: signal },
      )
    } catch (error) {
      // Kinesis rejects a sequence number it cannot place (trimmed, or from another stream).
      if (shard.sequenceNumber !== undefined && nameOf(error) === 'InvalidArgumentException')
        throw new Restart('position-lost')
      throw error
    }
    if (response.ShardIterator === undefined)
      throw new Error(`no iterator returned for ${shard.id}`)
    shard.iterator = response.ShardIterator
    shard.iteratorIssuedAt = issuedAt
    return response.ShardIterator
  }

  async #readShard(shard: ShardState, tally: Tally, options: PollOptions): Promise<void> {
    tally.shardsPolled++
    let expiredRetries = 0
    try {
      for (let page = 0; page < this.#options.maxPagesPerShard; ) {
        const iterator = await this.#iterator(shard, tally, options.signal)
        let response: GetRecordsCommandOutput
        const calledAt = this.#now()
        try {
          tally.getRecords++
          response = await this.#options.client.send(
            new GetRecordsCommand({ ShardIterator: iterator, Limit: this.#recordsPerPage }),
            { abortSignal: options.signal },
          )
        } catch (error) {
          const name = nameOf(error)
          // The iterator outlived its 5 minutes (a clock jump, a long freeze mid-poll): resume
          // right after the last record read, once the stream is known to be the same one.
          if (name === 'ExpiredIteratorException' && expiredRetries++ === 0) {
            shard.iterator = undefined
            await this.#listShards(tally, options.signal)
            continue
          }
          // An iterator Kinesis does not recognise: take a new one, after checking the stream.
          if (name === 'InvalidArgumentException') {
            shard.iterator = undefined
            this.#needsRelist = true
          }
          throw error
        }
        page++
        const records = response.Records ?? []
        for (const record of records) this.#consume(shard, record, tally, options)
        if (response.NextShardIterator == null) {
          shard.iterator = undefined
          shard.finished = true
          if (response.ChildShards !== undefined && response.ChildShards.length > 0) {
            this.#adoptChildren(response.ChildShards)
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

  #consume(shard: ShardState, record: _Record, tally: Tally, options: PollOptions): void {
    tally.records++
    const encoded = encodedRecord(record.Data ?? new Uint8Array())
    const decoded = decodeEncoded(this.#options.decoders ?? [], encoded, this.#options.secrets)
    if (decoded.ok) {
      tally.invalidations++
      tally.droppedEntries += decoded.droppedEntries
      options.apply(decoded.invalidation)
    } else {
      tally.skippedRecords++
      options.onSkip?.({
        shardId: shard.id,
        sequenceNumber: record.SequenceNumber ?? '',
        reason: decoded.reason,
      })
    }
    options.onRecord?.({
      ...encoded,
      shardId: shard.id,
      sequenceNumber: record.SequenceNumber ?? '',
      arrivedAt: record.ApproximateArrivalTimestamp?.getTime(),
      decoded,
    })
    // Only after the record was applied: a crash in between re-reads it, which is harmless.
    if (record.SequenceNumber !== undefined) shard.sequenceNumber = record.SequenceNumber
  }
}
