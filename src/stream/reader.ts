import {
  type _Record,
  type ChildShard,
  GetRecordsCommand,
  type GetRecordsCommandOutput,
  GetShardIteratorCommand,
  type KinesisClient,
  ListShardsCommand,
  type Shard,
} from '@aws-sdk/client-kinesis'
import { decodeRecord, type Invalidation, type SkipReason } from '../record/index.js'
import { streamParams } from './client.js'

/** Kinesis expires a shard iterator 5 minutes after issuing it; re-acquire a little earlier. */
const ITERATOR_MAX_AGE_MS = 5 * 60_000 - 15_000
/** GetRecords' own maximum. */
const RECORDS_PER_PAGE = 10_000
/** Generations of shards followed in one poll (a split of a split of …). */
const MAX_ROUNDS = 8

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
  /** `Limit` of each GetRecords call. Default 10,000, Kinesis' maximum. */
  readonly recordsPerPage?: number
  /** Wall clock, ms. */
  readonly now?: () => number
}

export interface PollOptions {
  /** Called for each decoded invalidation, before the shard's position moves past its record. */
  readonly apply: (invalidation: Invalidation) => void
  /** Called for each record that is not a valid invalidation. It has been counted and passed. */
  readonly onSkip?: (skip: SkippedRecord) => void
  /** Aborts the poll's in-flight calls (the poll's time budget). */
  readonly signal?: AbortSignal
}

export interface SkippedRecord {
  readonly shardId: string
  readonly sequenceNumber: string
  readonly reason: SkipReason
}

export interface StreamError {
  readonly shardId?: string
  readonly name: string
  readonly message: string
}

export interface PollResult {
  /** Every shard was read to its tip (or to the page cap) without error. */
  readonly ok: boolean
  readonly records: number
  readonly skippedRecords: number
  /** Entries dropped from otherwise valid records (invalid keys). */
  readonly droppedEntries: number
  readonly invalidations: number
  readonly shardsPolled: number
  /** Some shard still had records after `maxPagesPerShard` pages. */
  readonly behind: boolean
  readonly calls: {
    readonly getRecords: number
    readonly getShardIterator: number
    readonly listShards: number
  }
  readonly errors: readonly StreamError[]
}

/** Where a shard is read from when it has no iterator and no sequence number yet. */
type StartPosition =
  | { readonly type: 'AT_TIMESTAMP'; readonly at: number }
  | { readonly type: 'TRIM_HORIZON' }

interface ShardState {
  readonly id: string
  readonly parentIds: readonly string[]
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
  behind: boolean
  getRecords: number
  getShardIterator: number
  listShards: number
  errors: StreamError[]
}

const errorOf = (error: unknown, shardId?: string): StreamError => {
  const { name, message } =
    error instanceof Error ? error : { name: 'Error', message: String(error) }
  return shardId === undefined ? { name, message } : { shardId, name, message }
}

/**
 * Reads a Kinesis stream from where this container last looked. Per shard it keeps the
 * NextShardIterator and the last sequence number, so a quiet shard never loses its position and
 * an expired iterator is re-acquired right after the last record read. Shards are read in
 * parallel; a closed shard is read to its end before its children.
 *
 * Steady state is one GetRecords per shard per poll: shards are listed once, and again only
 * when one closes without naming its children.
 */
export class StreamReader {
  readonly #options: StreamReaderOptions
  readonly #now: () => number
  readonly #recordsPerPage: number
  #shards: Map<string, ShardState> | undefined
  /** Position of shards not yet listed: the cold start, or the last skip. */
  #start: StartPosition
  /**
   * A shard closed without naming its children: list the shards again. Kept across polls and
   * cleared only by a successful listing, or the children would never be read.
   */
  #needsRelist = false

  constructor(options: StreamReaderOptions) {
    this.#options = options
    this.#now = options.now ?? Date.now
    this.#recordsPerPage = Math.min(
      RECORDS_PER_PAGE,
      Math.max(1, options.recordsPerPage ?? RECORDS_PER_PAGE),
    )
    this.#start = { type: 'AT_TIMESTAMP', at: this.#now() - options.clockSkewMs }
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
    for (const shard of this.#shards?.values() ?? []) {
      if (shard.iterator !== undefined && now - shard.iteratorIssuedAt < keepIteratorMs) continue
      shard.iterator = undefined
      shard.sequenceNumber = undefined
      shard.start = this.#start
    }
  }

  /** Positions per shard, for diagnostics. */
  positions(): { shardId: string; sequenceNumber?: string; finished: boolean }[] {
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
      behind: false,
      getRecords: 0,
      getShardIterator: 0,
      listShards: 0,
      errors: [],
    }
    const read = new Set<string>()
    try {
      // A round reads every readable shard once; a shard that closes makes its children readable
      // in the next round, so a split or merge is followed within the same poll.
      for (let round = 0; ; round++) {
        if (this.#shards === undefined || this.#needsRelist)
          await this.#listShards(tally, options.signal)
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
      if (read.size === 0) {
        // A stream always has an open shard: our view of it is out of date.
        this.#needsRelist = true
        tally.errors.push({
          name: 'NoReadableShard',
          message: 'no open shard found; listing again next poll',
        })
      }
    } catch (error) {
      tally.errors.push(errorOf(error))
    }
    return {
      ok: tally.errors.length === 0,
      records: tally.records,
      skippedRecords: tally.skippedRecords,
      droppedEntries: tally.droppedEntries,
      invalidations: tally.invalidations,
      shardsPolled: tally.shardsPolled,
      behind: tally.behind,
      calls: {
        getRecords: tally.getRecords,
        getShardIterator: tally.getShardIterator,
        listShards: tally.listShards,
      },
      errors: tally.errors,
    }
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
      const previous = known?.get(shard.ShardId)
      const parentIds = [shard.ParentShardId, shard.AdjacentParentShardId].filter(
        (id): id is string => id !== undefined,
      )
      shards.set(
        shard.ShardId,
        previous ??
          this.#newShard(
            shard.ShardId,
            parentIds,
            known === undefined ? this.#start : this.#childStart(parentIds),
          ),
      )
    }
    // A parent past retention drops out of the listing; its state is kept so that its children
    // stay readable.
    for (const [id, shard] of known ?? []) if (!shards.has(id)) shards.set(id, shard)
    this.#shards = shards
    this.#needsRelist = false
  }

  #newShard(id: string, parentIds: readonly string[], start: StartPosition): ShardState {
    return {
      id,
      parentIds,
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
    if (
      shard.iterator !== undefined &&
      this.#now() - shard.iteratorIssuedAt < ITERATOR_MAX_AGE_MS
    ) {
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
    const response = await this.#options.client.send(
      new GetShardIteratorCommand({
        ...streamParams(this.#options.stream),
        ShardId: shard.id,
        ...position,
      }),
      { abortSignal: signal },
    )
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
          // The iterator outlived its 5 minutes (a clock jump, a long freeze mid-poll):
          // resume right after the last record read.
          if (
            error instanceof Error &&
            error.name === 'ExpiredIteratorException' &&
            expiredRetries++ === 0
          ) {
            shard.iterator = undefined
            continue
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
        const caughtUp =
          (response.MillisBehindLatest ?? 0) === 0 && records.length < this.#recordsPerPage
        if (caughtUp) return
      }
      tally.behind = true
    } catch (error) {
      tally.errors.push(errorOf(error, shard.id))
    }
  }

  #consume(shard: ShardState, record: _Record, tally: Tally, options: PollOptions): void {
    tally.records++
    const decoded = decodeRecord(record.Data ?? new Uint8Array())
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
    // Only after the record was applied: a crash in between re-reads it, which is harmless.
    if (record.SequenceNumber !== undefined) shard.sequenceNumber = record.SequenceNumber
  }
}
