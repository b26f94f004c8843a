import {
  DescribeStreamSummaryCommand,
  ExpiredIteratorException,
  GetRecordsCommand,
  GetShardIteratorCommand,
  InvalidArgumentException,
  KinesisClient,
  ListShardsCommand,
  ProvisionedThroughputExceededException,
  PutRecordsCommand,
  ResourceNotFoundException,
} from '@aws-sdk/client-kinesis'
import { admitInWindow, kinesisLimits } from '../../../bench/fleet/kinesis.js'
import { operationOf, simulatedCall } from './call.js'
import type { VirtualTime } from './time.js'

/**
 * A Kinesis stream in virtual time for the simulation, answering the real SDK commands through
 * `client.send`. It starts from the fleet simulator's model (bench/fleet/kinesis.ts: the
 * per-shard read limits, iterators that expire after 5 minutes, a visibility delay) and adds
 * what the simulation needs to break promises with: resharding (split and merge, with or without
 * `ChildShards`), 24-hour retention that trims silently (a position behind the trim horizon reads
 * from it, as the worst case), a stream deleted and created again under the same name, puts, and
 * faults injected per call: throttling, 5xx, connection resets, calls that hang until the
 * caller aborts them, and expired iterators.
 */

const ITERATOR_TTL_MS = 5 * 60_000
export const RETENTION_MS = 24 * 3_600_000

export interface Faults {
  /** Probability per read call of each fault. */
  readonly throttle: number
  readonly serverError: number
  readonly reset: number
  readonly hang: number
  /** Of GetRecords only: the iterator is reported expired. */
  readonly expired: number
  /** Probability per PutRecords entry of being failed (the publisher retries it). */
  readonly putFailure: number
}

export const noFaults: Faults = {
  throttle: 0,
  serverError: 0,
  reset: 0,
  hang: 0,
  expired: 0,
  putFailure: 0,
}

interface StoredRecord {
  readonly sequenceNumber: string
  readonly data: Uint8Array
  readonly arrivedAt: number
}

interface Shard {
  readonly id: string
  readonly index: number
  readonly parents: readonly string[]
  readonly records: StoredRecord[]
  readonly startingSequenceNumber: string
  closedAt: number | undefined
  readonly getRecordsAt: number[]
  readonly getShardIteratorAt: number[]
}

const metadata = (status: number) => ({ httpStatusCode: status, requestId: 'simulated' })

type Fault = 'hang' | 'throttle' | '5xx' | 'reset' | 'expired'

const drawFault = (faults: Faults, operation: string, draw: number): Fault | undefined => {
  const table: [Fault, number][] = [
    ['hang', faults.hang],
    ['throttle', faults.throttle],
    ['5xx', faults.serverError],
    ['reset', faults.reset],
    ['expired', operation === 'GetRecords' ? faults.expired : 0],
  ]
  let edge = 0
  for (const [fault, probability] of table) {
    edge += probability
    if (draw < edge) return fault
  }
  return undefined
}

/** The error each injected fault answers with, as the SDK would surface it. */
const faultError = (fault: Exclude<Fault, 'hang'>): Error => {
  switch (fault) {
    case 'throttle':
      return new ProvisionedThroughputExceededException({
        message: 'Rate exceeded (injected).',
        $metadata: metadata(400),
      })
    case '5xx':
      return Object.assign(new Error('We encountered an internal error.'), {
        name: 'InternalFailure',
        $fault: 'server',
        $metadata: metadata(500),
      })
    case 'reset':
      return Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })
    case 'expired':
      return new ExpiredIteratorException({
        message: 'Iterator expired (injected).',
        $metadata: metadata(400),
      })
  }
}

export interface SimulatedStreamOptions {
  readonly name: string
  readonly shards: number
  readonly time: VirtualTime
  readonly random: () => number
  /** From put to readable, ms. */
  readonly visibilityDelayMs: number
  /** A closed shard's last GetRecords names its children (as Kinesis does), or not (emulators). */
  readonly childShards: boolean
  /** Called after every record put (the simulated event source mapping wakes on it). */
  readonly onPut?: (shardId: string) => void
}

export class SimulatedStream {
  readonly name: string
  readonly #options: SimulatedStreamOptions
  #generation = 0
  #shards: Shard[] = []
  /** Until then the stream is being deleted and created again: every call fails. */
  #deletingUntil = Number.NEGATIVE_INFINITY
  readonly calls: Record<string, number> = {}
  readonly faults: Record<string, number> = {}

  constructor(options: SimulatedStreamOptions) {
    this.#options = options
    this.name = options.name
    this.#create(options.shards)
  }

  get #now(): number {
    return this.#options.time.now
  }

  get openShards(): number {
    return this.#shards.filter((shard) => shard.closedAt === undefined).length
  }

  #create(shards: number): void {
    this.#generation++
    this.#shards = []
    for (let i = 0; i < shards; i++) this.#addShard([])
  }

  #addShard(parents: readonly string[]): Shard {
    const index = this.#shards.length
    const shard: Shard = {
      id: `shardId-${String(index).padStart(12, '0')}`,
      index,
      parents,
      records: [],
      startingSequenceNumber: this.#sequenceNumber(index, 0),
      closedAt: undefined,
      getRecordsAt: [],
      getShardIteratorAt: [],
    }
    this.#shards.push(shard)
    return shard
  }

  /** Sequence numbers differ between generations: a recreated stream's are not the old one's. */
  #sequenceNumber(shard: number, position: number): string {
    return `49${String(this.#generation).padStart(4, '0')}${String(shard).padStart(4, '0')}${String(position).padStart(12, '0')}`
  }

  #place(sequence: string): { shard: number; position: number } | undefined {
    if (!/^49\d{20}$/.test(sequence)) return undefined
    if (Number(sequence.slice(2, 6)) !== this.#generation) return undefined
    return { shard: Number(sequence.slice(6, 10)), position: Number(sequence.slice(10)) }
  }

  /** The first position of `shard` still kept (older records are trimmed). */
  #trimHorizon(shard: Shard): number {
    const oldest = this.#now - RETENTION_MS
    let i = 0
    while (i < shard.records.length && (shard.records[i] as StoredRecord).arrivedAt < oldest) i++
    return i
  }

  /** Splits an open shard in two. */
  split(): boolean {
    const open = this.#shards.filter((shard) => shard.closedAt === undefined)
    const parent = open[Math.floor(this.#options.random() * open.length)]
    if (parent === undefined || this.#shards.length > 40) return false
    parent.closedAt = this.#now
    this.#addShard([parent.id])
    this.#addShard([parent.id])
    return true
  }

  /** Merges two open shards into one. */
  merge(): boolean {
    const open = this.#shards.filter((shard) => shard.closedAt === undefined)
    if (open.length < 2 || this.#shards.length > 40) return false
    const i = Math.floor(this.#options.random() * (open.length - 1))
    const a = open[i] as Shard
    const b = open[i + 1] as Shard
    a.closedAt = this.#now
    b.closedAt = this.#now
    this.#addShard([a.id, b.id])
    return true
  }

  /** Deletes the stream and creates it again under the same name, `gapMs` later. */
  recreate(gapMs: number): void {
    this.#deletingUntil = this.#now + gapMs
    this.#create(Math.max(1, this.openShards))
  }

  /** A put at now, on an open shard picked at random (writers use random partition keys). */
  put(data: Uint8Array): { shardId: string; sequenceNumber: string } {
    const open = this.#shards.filter((shard) => shard.closedAt === undefined)
    const shard = open[Math.floor(this.#options.random() * open.length)] as Shard
    const record: StoredRecord = {
      sequenceNumber: this.#sequenceNumber(shard.index, shard.records.length),
      data,
      arrivedAt: this.#now,
    }
    shard.records.push(record)
    this.#options.onPut?.(shard.id)
    return { shardId: shard.id, sequenceNumber: record.sequenceNumber }
  }

  /**
   * A client for one container (or writer): each call is answered as of the virtual time it is
   * sent, after a fault is drawn for it, and arrives `latencyMs()` later; a hung call never
   * arrives, and rejects only when the caller's abort signal fires.
   */
  client(faults: () => Faults, latencyMs: () => number): KinesisClient {
    const client = new KinesisClient({
      region: 'us-east-1',
      credentials: { accessKeyId: 'simulated', secretAccessKey: 'simulated' },
    })
    const time = this.#options.time
    const random = this.#options.random
    const send = (command: unknown, options?: { abortSignal?: AbortSignal }): Promise<unknown> =>
      simulatedCall(time, options?.abortSignal, latencyMs, () => {
        const operation = operationOf(command)
        this.calls[operation] = (this.calls[operation] ?? 0) + 1
        const f = faults()
        const fault = operation === 'PutRecords' ? undefined : drawFault(f, operation, random())
        if (fault !== undefined) this.faults[fault] = (this.faults[fault] ?? 0) + 1
        // Hung: never answered; only the caller's abort ends it.
        if (fault === 'hang') return 'hang'
        if (fault !== undefined) return { ok: false, error: faultError(fault) }
        try {
          return { ok: true, output: this.#handle(command, f) }
        } catch (error) {
          return { ok: false, error }
        }
      })
    client.send = send as KinesisClient['send']
    return client
  }

  #handle(command: unknown, faults: Faults): unknown {
    const at = this.#now
    const notFound = () =>
      new ResourceNotFoundException({
        message: `Stream ${this.name} not found.`,
        $metadata: metadata(400),
      })
    if (at < this.#deletingUntil) throw notFound()
    if (command instanceof PutRecordsCommand) {
      const entries = command.input.Records ?? []
      let failed = 0
      const records = entries.map((entry) => {
        if (this.#options.random() < faults.putFailure) {
          failed++
          return {
            ErrorCode: 'ProvisionedThroughputExceededException',
            ErrorMessage: 'Rate exceeded (injected).',
          }
        }
        const { shardId, sequenceNumber } = this.put(entry.Data ?? new Uint8Array())
        return { ShardId: shardId, SequenceNumber: sequenceNumber }
      })
      return { $metadata: metadata(200), FailedRecordCount: failed, Records: records }
    }
    const streamName = (input: { StreamName?: string; StreamARN?: string }) => {
      if ((input.StreamName ?? input.StreamARN) !== this.name) throw notFound()
    }
    if (command instanceof GetRecordsCommand) {
      const { ShardIterator: iterator = '', Limit: limit = 10_000 } = command.input
      const [generation, shardIndex, position, issuedAt] = iterator.split('/').map(Number)
      const shard = this.#shards[shardIndex ?? -1]
      if (generation !== this.#generation || shard === undefined || position === undefined)
        throw new InvalidArgumentException({
          message: 'Invalid ShardIterator.',
          $metadata: metadata(400),
        })
      if (at - (issuedAt ?? 0) > ITERATOR_TTL_MS)
        throw new ExpiredIteratorException({
          message: 'Iterator expired.',
          $metadata: metadata(400),
        })
      if (!admitInWindow(shard.getRecordsAt, kinesisLimits.getRecordsPerSecond, at))
        throw new ProvisionedThroughputExceededException({
          message: `Rate exceeded for shard ${shard.id}.`,
          $metadata: metadata(400),
        })
      const visibleUntil = at - this.#options.visibilityDelayMs
      const records: StoredRecord[] = []
      // Behind the trim horizon: read on from it, as if nothing had been lost (the worst case).
      let next = Math.max(position, this.#trimHorizon(shard))
      while (next < shard.records.length && records.length < limit) {
        const record = shard.records[next] as StoredRecord
        if (record.arrivedAt > visibleUntil) break
        records.push(record)
        next++
      }
      const behind = shard.records[next]
      const ended = shard.closedAt !== undefined && behind === undefined
      const children = this.#shards.filter((child) => child.parents.includes(shard.id))
      return {
        $metadata: metadata(200),
        Records: records.map((record) => ({
          SequenceNumber: record.sequenceNumber,
          Data: record.data,
          PartitionKey: 'simulated',
          ApproximateArrivalTimestamp: new Date(record.arrivedAt),
        })),
        ...(ended
          ? this.#options.childShards
            ? {
                ChildShards: children.map((child) => ({
                  ShardId: child.id,
                  ParentShards: [...child.parents],
                  HashKeyRange: { StartingHashKey: '0', EndingHashKey: '1' },
                })),
              }
            : {}
          : { NextShardIterator: `${this.#generation}/${shard.index}/${next}/${at}` }),
        MillisBehindLatest:
          behind === undefined || behind.arrivedAt > visibleUntil
            ? 0
            : Math.max(0, at - behind.arrivedAt),
      }
    }
    if (command instanceof GetShardIteratorCommand) {
      const input = command.input
      streamName(input)
      const shard = this.#shards.find((s) => s.id === input.ShardId)
      if (shard === undefined)
        throw new ResourceNotFoundException({
          message: `Shard ${input.ShardId} not found.`,
          $metadata: metadata(400),
        })
      if (!admitInWindow(shard.getShardIteratorAt, kinesisLimits.getShardIteratorPerSecond, at))
        throw new ProvisionedThroughputExceededException({
          message: `Rate exceeded for GetShardIterator on shard ${shard.id}.`,
          $metadata: metadata(400),
        })
      const horizon = this.#trimHorizon(shard)
      let position: number
      switch (input.ShardIteratorType) {
        case 'TRIM_HORIZON':
          position = horizon
          break
        case 'LATEST':
          position = shard.records.length
          break
        case 'AT_TIMESTAMP': {
          const from = input.Timestamp?.getTime() ?? 0
          position = shard.records.findIndex((record) => record.arrivedAt >= from)
          if (position === -1) position = shard.records.length
          position = Math.max(position, horizon)
          break
        }
        default: {
          const sequence = input.StartingSequenceNumber ?? ''
          const placed = this.#place(sequence)
          if (placed === undefined || placed.shard !== shard.index)
            throw new InvalidArgumentException({
              message: `StartingSequenceNumber ${sequence} is not in shard ${shard.id}.`,
              $metadata: metadata(400),
            })
          position =
            input.ShardIteratorType === 'AFTER_SEQUENCE_NUMBER'
              ? placed.position + 1
              : placed.position
          position = Math.max(position, horizon)
        }
      }
      return {
        $metadata: metadata(200),
        ShardIterator: `${this.#generation}/${shard.index}/${position}/${at}`,
      }
    }
    if (command instanceof ListShardsCommand) {
      if (command.input.NextToken === undefined) streamName(command.input)
      return {
        $metadata: metadata(200),
        Shards: this.#shards
          .filter((shard) => shard.closedAt === undefined || shard.closedAt > at - RETENTION_MS)
          .map((shard) => ({
            ShardId: shard.id,
            ...(shard.parents[0] === undefined ? {} : { ParentShardId: shard.parents[0] }),
            ...(shard.parents[1] === undefined ? {} : { AdjacentParentShardId: shard.parents[1] }),
            HashKeyRange: { StartingHashKey: '0', EndingHashKey: '1' },
            SequenceNumberRange: {
              StartingSequenceNumber: shard.startingSequenceNumber,
              ...(shard.closedAt === undefined
                ? {}
                : { EndingSequenceNumber: this.#sequenceNumber(shard.index, 999_999_999_999) }),
            },
          })),
      }
    }
    if (command instanceof DescribeStreamSummaryCommand) {
      streamName(command.input)
      return {
        $metadata: metadata(200),
        StreamDescriptionSummary: {
          StreamName: this.name,
          StreamStatus: 'ACTIVE',
          RetentionPeriodHours: RETENTION_MS / 3_600_000,
          OpenShardCount: this.openShards,
        },
      }
    }
    throw new Error(`SimulatedStream: ${command} is not simulated`)
  }
}
