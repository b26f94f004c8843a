import {
  decodeEncoded,
  encodedRecord,
  hasTagsOrPatterns,
  type RecordDecoder,
  type SkipReason,
} from '../record/index.js'
import { ENTRY_MAX_BYTES, isHeartbeatRecord } from './entry.js'

/** Entries one batch may become; past this, the batch is one `all` entry instead. */
export const MAX_ENTRIES_PER_BATCH = 20
/** An entry's fixed attributes (pk, seq, at, upTo, shard, expiresAt, all), bytes, generously. */
const ENTRY_BASE_BYTES = 160
/** A list element's overhead beyond its string, bytes. */
const ELEMENT_BYTES = 3

/** One Kinesis record as the relay gets it: bytes, shard, and when Kinesis received it. */
export interface RelayRecord {
  readonly shard: string
  /** The stream it was read from (name or ARN): signatures are bound to it. */
  readonly stream?: string
  readonly sequenceNumber: string
  readonly data: Uint8Array
  /** `ApproximateArrivalTimestamp`, ms since the epoch (Kinesis' clock). */
  readonly arrivedAt: number
}

/** An entry before it has a place in a copy. */
export interface PendingEntry {
  readonly keys: string[]
  readonly prefixes: string[]
  all: boolean
  upTo?: number
  readonly shard: string
}

export interface PackedBatch {
  readonly entries: PendingEntry[]
  readonly records: number
  readonly invalidations: number
  readonly heartbeats: number
  readonly droppedEntries: number
  readonly skipped: { readonly sequenceNumber: string; readonly reason: SkipReason }[]
  /** The batch needed more than `MAX_ENTRIES_PER_BATCH` entries, and became one `all`. */
  readonly collapsed: boolean
}

/**
 * Turns one shard's batch into log entries, decoding each record exactly as a container reading
 * the stream would (the same decoders and secrets, the same skips). Entries stay under
 * `ENTRY_MAX_BYTES`; an `all` makes whatever came before it in the batch moot, so it starts the
 * batch afresh. Each entry's `upTo` is the arrival time of the last record it completes, so a
 * reader never believes the log further along than the entries it has read. A batch always
 * yields at least one entry: one with nothing to evict still shows the shard moving.
 */
export const packBatch = (
  shard: string,
  records: readonly RelayRecord[],
  decoders: readonly RecordDecoder[],
  secrets: readonly string[],
): PackedBatch => {
  let entries: PendingEntry[] = []
  let current: PendingEntry = { keys: [], prefixes: [], all: false, shard }
  let bytes = ENTRY_BASE_BYTES
  let completeUpTo: number | undefined
  let invalidations = 0
  let heartbeats = 0
  let droppedEntries = 0
  const skipped: PackedBatch['skipped'] = []
  const flush = () => {
    if (completeUpTo !== undefined) current.upTo = completeUpTo
    entries.push(current)
    current = { keys: [], prefixes: [], all: false, shard }
    bytes = ENTRY_BASE_BYTES
  }
  const add = (list: 'keys' | 'prefixes', value: string) => {
    const size = Buffer.byteLength(value) + ELEMENT_BYTES
    if (bytes + size > ENTRY_MAX_BYTES) flush()
    current[list].push(value)
    bytes += size
  }
  for (const record of records) {
    const encoded = encodedRecord(record.data)
    if (isHeartbeatRecord(encoded.json())) heartbeats++
    else {
      // As a container reading the stream would: a signature covers the stream's name, and a
      // signed record's `at` must lie near its arrival.
      const decoded = decodeEncoded(decoders, encoded, secrets, {
        ...(record.stream === undefined ? {} : { stream: record.stream }),
        ...(record.arrivedAt > 0 ? { arrivedAt: record.arrivedAt } : {}),
      })
      if (!decoded.ok)
        skipped.push({ sequenceNumber: record.sequenceNumber, reason: decoded.reason })
      else {
        invalidations++
        droppedEntries += decoded.droppedEntries
        const { invalidation } = decoded
        // The log's entries hold keys, prefixes and all only (containers of every version read
        // them): a record's tags or patterns become an `all`, which evicts at least as much.
        if (invalidation.all || hasTagsOrPatterns(invalidation)) {
          entries = []
          current = { keys: [], prefixes: [], all: true, shard }
          bytes = ENTRY_BASE_BYTES
        }
        for (const key of invalidation.keys) add('keys', key)
        for (const prefix of invalidation.prefixes) add('prefixes', prefix)
      }
    }
    completeUpTo = Math.max(completeUpTo ?? 0, record.arrivedAt)
  }
  flush()
  const collapsed = entries.length > MAX_ENTRIES_PER_BATCH
  if (collapsed) {
    // Fewer, bigger reads for every container are worth less than one refill: evict everything.
    entries = [{ keys: [], prefixes: [], all: true, shard, ...upToOf(completeUpTo) }]
  }
  return {
    entries,
    records: records.length,
    invalidations,
    heartbeats,
    droppedEntries,
    skipped,
    collapsed,
  }
}

const upToOf = (upTo: number | undefined): { upTo?: number } => (upTo === undefined ? {} : { upTo })
