import type { ChildShard, GetShardIteratorOutput, Shard } from '@aws-sdk/client-kinesis'
import { describeError } from '../errors.js'
import type { RestartReason, SourceError } from '../source/index.js'
import { streamParams } from './client.js'
import { THROTTLES } from './errors.js'
import type { ReadClient } from './read-client.js'
import type { PollResult } from './types.js'

/** Kinesis expires a shard iterator 5 minutes after issuing it; re-acquire a little earlier. */
export const ITERATOR_MAX_AGE_MS = 5 * 60_000 - 15_000

/** Where a shard is read from when it has no iterator and no sequence number yet. */
export type StartPosition =
  | { readonly type: 'AT_TIMESTAMP'; readonly at: number }
  | { readonly type: 'TRIM_HORIZON' }

export interface ShardState {
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

export interface Tally {
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

export const newTally = (): Tally => ({
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
})

/** What a poll's tally tells its caller. */
export const resultOf = (tally: Tally): PollResult => ({
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
})

/** Thrown inside a poll when the positions cannot be trusted; ends the poll. */
export class Restart extends Error {
  constructor(readonly reason: RestartReason) {
    super(reason)
  }
}

export const errorOf = (error: unknown, shardId?: string): SourceError => {
  const { name, message } = describeError(error)
  return shardId === undefined ? { name, message } : { shardId, name, message }
}

export const nameOf = (error: unknown): string => (error instanceof Error ? error.name : '')

/** Open shards, and closed ones not yet read to their end, whose parents have been. */
export const readableShards = (
  shards: ReadonlyMap<string, ShardState> | undefined,
): ShardState[] => {
  const all = shards ?? new Map<string, ShardState>()
  return [...all.values()].filter(
    (shard) =>
      !shard.finished && shard.parentIds.every((parentId) => all.get(parentId)?.finished ?? true),
  )
}

export const hasLiveIterator = (shard: ShardState, now: number): boolean =>
  shard.iterator !== undefined && now - shard.iteratorIssuedAt < ITERATOR_MAX_AGE_MS

export const newShard = (
  id: string,
  parentIds: readonly string[],
  start: StartPosition,
): ShardState => ({
  id,
  parentIds,
  startingSequenceNumber: undefined,
  iterator: undefined,
  iteratorIssuedAt: 0,
  sequenceNumber: undefined,
  start,
  finished: false,
})

/**
 * Lists the stream's shards and merges them with those `known`: positions are kept, new shards
 * start at `start` (at the cold start) or after their parents. Throws `Restart` when the listing
 * shows the positions cannot be trusted.
 */
export const listShards = async (
  client: ReadClient,
  stream: string,
  known: ReadonlyMap<string, ShardState> | undefined,
  start: StartPosition,
  tally: Tally,
  signal: AbortSignal | undefined,
): Promise<Map<string, ShardState>> => {
  const listed: Shard[] = []
  let nextToken: string | undefined
  do {
    tally.listShards++
    const page = await client.listShards(
      nextToken === undefined ? streamParams(stream) : { NextToken: nextToken },
      signal,
    )
    listed.push(...(page.Shards ?? []))
    nextToken = page.NextToken
  } while (nextToken !== undefined)
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
    const state = newShard(
      shard.ShardId,
      parentIds,
      known === undefined ? start : childStart(known, parentIds),
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
  return shards
}

/** Adds the children a closed shard named (`ChildShards`), each to start after its parents. */
export const adoptChildren = (
  shards: Map<string, ShardState> | undefined,
  children: readonly ChildShard[],
): void => {
  if (shards === undefined) return
  for (const child of children) {
    if (child.ShardId === undefined || shards.has(child.ShardId)) continue
    const parentIds = child.ParentShards ?? []
    shards.set(child.ShardId, newShard(child.ShardId, parentIds, childStart(shards, parentIds)))
  }
}

/**
 * Where a new shard is read from. Records reach a child only after its parents closed, so its
 * start is safe; but when every parent was positioned at a timestamp (the cold start or a
 * skip), nothing older than that is needed, and reading from it spares a backlog.
 */
export const childStart = (
  shards: ReadonlyMap<string, ShardState>,
  parentIds: readonly string[],
): StartPosition => {
  const parents = parentIds.map((id) => shards.get(id))
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

/** A live iterator for `shard`: its own, or a new one from its position (`GetShardIterator`). */
export const iteratorOf = async (
  client: ReadClient,
  stream: string,
  shard: ShardState,
  now: () => number,
  tally: Tally,
  signal: AbortSignal | undefined,
): Promise<string> => {
  if (shard.iterator !== undefined && hasLiveIterator(shard, now())) {
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
  const issuedAt = now()
  let response: GetShardIteratorOutput
  try {
    response = await client.getShardIterator(
      { ...streamParams(stream), ShardId: shard.id, ...position },
      signal,
    )
  } catch (error) {
    // Kinesis rejects a sequence number it cannot place (trimmed, or from another stream).
    if (shard.sequenceNumber !== undefined && nameOf(error) === 'InvalidArgumentException')
      throw new Restart('position-lost')
    throw error
  }
  if (response.ShardIterator === undefined) throw new Error(`no iterator returned for ${shard.id}`)
  shard.iterator = response.ShardIterator
  shard.iteratorIssuedAt = issuedAt
  return response.ShardIterator
}
