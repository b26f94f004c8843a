import { ScacheOptionsError } from '../errors.js'
import type { RecordDecoder } from '../record/index.js'
import { describe, integer, isObject, onlyKnown } from '../validate.js'
import { AppendError, Appender, type AppendTally, type Sleep, timerSleep } from './append.js'
import { type LogClient, lazyClient } from './client.js'
import { DEFAULT_RETENTION_MS } from './entry.js'
import { type PendingEntry, packBatch, type RelayRecord } from './pack.js'

/** Most copies of the log: each adds one write per entry. */
export const MAX_COPIES = 100
/** Time kept back from the invocation's deadline for the error to reach the mapping, ms. */
const DEADLINE_MARGIN_MS = 2_000
/** Appends are retried this long at most, when the invocation would allow longer, ms. */
const DEFAULT_APPEND_TIMEOUT_MS = 30_000

/** The parts of the Kinesis event source mapping's event the relay reads (`KinesisStreamEvent`). */
export interface KinesisEventRecord {
  readonly eventSource?: string
  readonly eventSourceARN?: string
  /** `shardId-…:sequenceNumber`. */
  readonly eventID: string
  readonly kinesis: {
    readonly data: string
    readonly sequenceNumber: string
    /** Seconds since the epoch (with a fraction). */
    readonly approximateArrivalTimestamp: number
  }
}

/** An SQS message, as the on-failure queue's event source mapping delivers it (`SQSEvent`). */
export interface QueueEventRecord {
  readonly eventSource?: string
  readonly messageId?: string
  readonly body?: string
}

export interface RelayEvent {
  readonly Records: readonly (KinesisEventRecord | QueueEventRecord)[]
}

export interface RelayContext {
  getRemainingTimeInMillis?(): number
}

export interface RelayOptions {
  /** The log table's name. */
  readonly table: string
  /** Copies of the log (`log#0`…): each container reads one. Default 1. */
  readonly copies?: number
  /** The containers' decoders, e.g. `[dynamoDbDecoder({ tables })]`. Default none. */
  readonly decoders?: readonly RecordDecoder[]
  /** The containers' secret(s): only records signed with one are relayed. Default none. */
  readonly secret?: string | readonly string[]
  /** How long entries are kept (the TTL), ms. Default 24 h. */
  readonly retentionMs?: number
  /**
   * Most time spent retrying appends in one invocation, ms: at most half of `retentionMs`.
   * Default 30 s.
   */
  readonly appendTimeoutMs?: number
  readonly client?: LogClient
  readonly now?: () => number
  /**
   * Waits `ms`, resolving early when `signal` aborts: the backoff between append attempts and
   * the deadline of the call in flight. Default: the global timers. For tests and simulations in
   * virtual time.
   */
  readonly sleep?: Sleep
  /** Random source of the backoff's jitter. Default `Math.random`. */
  readonly random?: () => number
  /** Where the relay's log line goes. Default: one JSON line on stdout. */
  readonly log?: (line: RelayLogLine) => void
}

export interface RelayLogLine {
  readonly relay: 'batch' | 'on-failure'
  readonly shard?: string
  readonly records: number
  readonly invalidations: number
  readonly heartbeats: number
  readonly skippedRecords: number
  readonly droppedEntries: number
  readonly skipped: readonly { readonly sequenceNumber: string; readonly reason: string }[]
  readonly entries: number
  readonly collapsed: boolean
  readonly appended: number
  readonly conflicts: number
  readonly headReads: number
  readonly retries: number
  readonly ms: number
  readonly error?: string
}

export type RelayHandler = (event: RelayEvent, context?: RelayContext) => Promise<void>

/** Skipped records a relay log line lists (all are counted). */
const SKIPPED_LISTED = 10

/**
 * The relay: a Lambda handler for the invalidation stream's event source mapping. It decodes
 * each batch as the containers would and appends it to every copy of the log table, in order.
 * - It never drops an invalidation: a record that is not one is skipped and counted (as a
 *   container would); a batch it cannot append before its deadline throws, so that the mapping
 *   retries it (and bisects it); a batch the mapping gives up on reaches the on-failure queue,
 *   whose messages, delivered to this same handler, become one `all` entry.
 * - Duplicates are harmless (a retried batch appends again; eviction is idempotent).
 * Give the mapping ParallelizationFactor 1, so that each shard's batches arrive in order.
 */
export const createRelay = (options: RelayOptions): RelayHandler => {
  const o = resolveRelayOptions(options)
  const appender = new Appender({
    table: o.table,
    client: lazyClient(o.client),
    retentionMs: o.retentionMs,
    now: o.now,
    sleep: o.sleep,
    random: o.random,
  })
  return async function scacheRelay(event, context) {
    const started = o.now()
    const remaining = context?.getRemainingTimeInMillis?.()
    const deadline =
      started +
      Math.min(
        o.appendTimeoutMs,
        remaining === undefined ? Infinity : remaining - DEADLINE_MARGIN_MS,
      )
    const records = Array.isArray(event?.Records) ? event.Records : []
    const fromQueue = records.some((record) => record.eventSource === 'aws:sqs')
    const tally: AppendTally = { appended: 0, conflicts: 0, headReads: 0, retries: 0 }
    const base = {
      records: records.length,
      invalidations: 0,
      heartbeats: 0,
      skippedRecords: 0,
      droppedEntries: 0,
      skipped: [] as RelayLogLine['skipped'],
      collapsed: false,
    }
    const batches: { shard: string; entries: PendingEntry[] }[] = []
    let line: Omit<RelayLogLine, 'appended' | 'conflicts' | 'headReads' | 'retries' | 'ms'>
    if (fromQueue) {
      // The mapping gave up on a batch (its records are not in the message): evict everything.
      const entries = [{ keys: [], prefixes: [], all: true, shard: 'on-failure' }]
      if (records.length > 0) batches.push({ shard: 'on-failure', entries })
      line = { relay: 'on-failure', ...base, entries: batches.length }
    } else {
      const byShard = groupByShard(records as readonly KinesisEventRecord[])
      let entryCount = 0
      for (const [shard, shardRecords] of byShard) {
        const packed = packBatch(shard, shardRecords, o.decoders, o.secrets)
        batches.push({ shard, entries: packed.entries })
        entryCount += packed.entries.length
        base.invalidations += packed.invalidations
        base.heartbeats += packed.heartbeats
        base.skippedRecords += packed.skipped.length
        base.droppedEntries += packed.droppedEntries
        base.skipped = [...base.skipped, ...packed.skipped].slice(0, SKIPPED_LISTED)
        base.collapsed ||= packed.collapsed
      }
      line = { relay: 'batch', shard: [...byShard.keys()].join(','), ...base, entries: entryCount }
    }
    const entries = batches.flatMap((batch) => batch.entries)
    const expiry = appender.deadlineSignal(deadline)
    try {
      // Every copy's appends settle (each bounded by the deadline) before the invocation ends, so
      // that none runs on unseen into the next one.
      const settled = await Promise.allSettled(
        Array.from({ length: o.copies }, (_, copy) =>
          appender.append(copy, entries, deadline, tally, expiry.signal),
        ),
      )
      for (const each of settled) if (each.status === 'rejected') throw each.reason
    } catch (error) {
      o.log({ ...line, ...tally, ms: o.now() - started, error: String(error) })
      // Thrown to the mapping, which retries the batch (bisecting it), then gives up to the
      // on-failure queue.
      throw error instanceof AppendError ? error : new AppendError(String(error), { cause: error })
    } finally {
      expiry.stop()
    }
    o.log({ ...line, ...tally, ms: o.now() - started })
  }
}

/** A batch's records per shard, in order; a record that cannot be read still counts (skipped). */
const groupByShard = (records: readonly KinesisEventRecord[]): Map<string, RelayRecord[]> => {
  const byShard = new Map<string, RelayRecord[]>()
  for (const record of records) {
    const eventId = typeof record?.eventID === 'string' ? record.eventID : ''
    const colon = eventId.lastIndexOf(':')
    const shard = colon > 0 ? eventId.slice(0, colon) : 'unknown'
    const kinesis = isObject(record?.kinesis) ? record.kinesis : undefined
    const data = typeof kinesis?.data === 'string' ? Buffer.from(kinesis.data, 'base64') : undefined
    const arrival = kinesis?.approximateArrivalTimestamp
    const list = byShard.get(shard) ?? []
    list.push({
      shard,
      ...(typeof record?.eventSourceARN === 'string' ? { stream: record.eventSourceARN } : {}),
      sequenceNumber: typeof kinesis?.sequenceNumber === 'string' ? kinesis.sequenceNumber : '',
      // Unreadable data decodes as nothing valid: skipped and counted, like any bad record.
      data: data ?? new Uint8Array(),
      arrivedAt: typeof arrival === 'number' && Number.isFinite(arrival) ? arrival * 1_000 : 0,
    })
    byShard.set(shard, list)
  }
  return byShard
}

interface ResolvedRelayOptions {
  readonly table: string
  readonly copies: number
  readonly decoders: readonly RecordDecoder[]
  readonly secrets: readonly string[]
  readonly retentionMs: number
  readonly appendTimeoutMs: number
  readonly client: LogClient | undefined
  readonly now: () => number
  readonly sleep: Sleep
  readonly random: () => number
  readonly log: (line: RelayLogLine) => void
}

const resolveRelayOptions = (options: unknown): ResolvedRelayOptions => {
  if (!isObject(options))
    throw new ScacheOptionsError('options', `must be { table, … } (got ${describe(options)})`)
  onlyKnown('', options, [
    'table',
    'copies',
    'decoders',
    'secret',
    'retentionMs',
    'appendTimeoutMs',
    'client',
    'now',
    'sleep',
    'random',
    'log',
  ])
  if (typeof options.table !== 'string' || options.table === '')
    throw new ScacheOptionsError('table', 'is required: the log table name')
  const decoders = options.decoders ?? []
  if (
    !Array.isArray(decoders) ||
    !decoders.every((decoder) => isObject(decoder) && typeof decoder.decode === 'function')
  )
    throw new ScacheOptionsError('decoders', 'must be an array of record decoders')
  const secret = options.secret
  const secrets: unknown[] = secret === undefined ? [] : Array.isArray(secret) ? secret : [secret]
  if (
    (secret !== undefined && secrets.length === 0) ||
    !secrets.every((each) => typeof each === 'string' && each.length >= 16)
  )
    throw new ScacheOptionsError('secret', 'must be a string of at least 16 characters, or a list')
  const client = options.client
  if (client !== undefined && (!isObject(client) || typeof client.send !== 'function'))
    throw new ScacheOptionsError('client', 'must be a DynamoDBClient')
  for (const name of ['now', 'sleep', 'random', 'log'] as const)
    if (options[name] !== undefined && typeof options[name] !== 'function')
      throw new ScacheOptionsError(name, 'must be a function')
  const retentionMs = integer(
    'retentionMs',
    options.retentionMs ?? DEFAULT_RETENTION_MS,
    60_000,
    365 * 86_400_000,
  )
  const appendTimeoutMs = integer(
    'appendTimeoutMs',
    options.appendTimeoutMs ?? DEFAULT_APPEND_TIMEOUT_MS,
    100,
    900_000,
  )
  // A batch holds the head it read until it ends: nothing above that head may expire meanwhile.
  if (appendTimeoutMs > retentionMs / 2)
    throw new ScacheOptionsError(
      'appendTimeoutMs',
      `must be at most half of retentionMs (${retentionMs}); got ${appendTimeoutMs}`,
    )
  return {
    table: options.table,
    copies: integer('copies', options.copies ?? 1, 1, MAX_COPIES),
    decoders: decoders as RecordDecoder[],
    secrets: secrets as string[],
    retentionMs,
    appendTimeoutMs,
    client: client as LogClient | undefined,
    now: (options.now as (() => number) | undefined) ?? Date.now,
    sleep: (options.sleep as Sleep | undefined) ?? timerSleep,
    random: (options.random as (() => number) | undefined) ?? Math.random,
    log:
      (options.log as ((line: RelayLogLine) => void) | undefined) ??
      ((line) => process.stdout.write(`${JSON.stringify(line)}\n`)),
  }
}
