import type { _Record } from '@aws-sdk/client-kinesis'
import { type DecodeResult, decodeEncoded, encodedRecord } from '../record/index.js'
import type { ShardState, Tally } from './shards.js'
import type { PollOptions, StreamReaderOptions } from './types.js'

/**
 * One record: decoded, applied, reported, and only then passed. Nothing a record holds, and no
 * callback failing on it, stops the shard: every failure is a counted skip.
 */
export const consumeRecord = (
  reader: Pick<StreamReaderOptions, 'decoders' | 'secrets' | 'stream'>,
  now: () => number,
  shard: ShardState,
  record: _Record,
  tally: Tally,
  options: PollOptions,
): void => {
  tally.records++
  const encoded = encodedRecord(record.Data ?? new Uint8Array())
  const arrivedAt = record.ApproximateArrivalTimestamp?.getTime()
  let decoded: DecodeResult
  try {
    decoded = decodeEncoded(reader.decoders ?? [], encoded, reader.secrets, {
      stream: reader.stream,
      // Kinesis always says; without it, a signed record's age is judged by the read.
      arrivedAt: arrivedAt ?? now(),
    })
  } catch {
    decoded = { ok: false, reason: 'decode-error' }
  }
  if (decoded.ok) {
    try {
      options.apply(decoded.invalidation)
      tally.invalidations++
      tally.droppedEntries += decoded.droppedEntries
    } catch {
      decoded = { ok: false, reason: 'apply-error' }
      try {
        // What it invalidated cannot be known to be evicted: evict everything, if that works.
        options.apply({ keys: [], prefixes: [], all: true })
      } catch {
        // Counted below; the shard moves on.
      }
    }
  }
  if (!decoded.ok) {
    tally.skippedRecords++
    try {
      options.onSkip?.({
        shardId: shard.id,
        sequenceNumber: record.SequenceNumber ?? '',
        reason: decoded.reason,
      })
    } catch {
      // A reporting callback does not decide whether the shard moves on.
    }
  }
  try {
    options.onRecord?.({
      ...encoded,
      shardId: shard.id,
      sequenceNumber: record.SequenceNumber ?? '',
      arrivedAt,
      decoded,
    })
  } catch {
    // As above.
  }
  // Only after the record was applied: a crash in between re-reads it, which is harmless.
  if (record.SequenceNumber !== undefined) shard.sequenceNumber = record.SequenceNumber
}
