import {
  DescribeStreamSummaryCommand,
  ExpiredIteratorException,
  GetRecordsCommand,
  GetShardIteratorCommand,
  InvalidArgumentException,
  KinesisClient,
  LimitExceededException,
  ListShardsCommand,
  ProvisionedThroughputExceededException,
  ResourceNotFoundException,
} from '@aws-sdk/client-kinesis'

/**
 * Kinesis Data Streams' limits, as its documentation states them ("Quotas and limits", and each
 * API's reference page).
 */
export interface KinesisLimits {
  /** GetRecords transactions per second per shard, shared by every reader. */
  readonly getRecordsPerSecond: number
  /** Bytes of records a shard returns per second (2 MiB); a larger read borrows from the next. */
  readonly readBytesPerSecond: number
  /** GetShardIterator per second per open shard. */
  readonly getShardIteratorPerSecond: number
  /** ListShards per second per stream. */
  readonly listShardsPerSecond: number
  /** DescribeStreamSummary per second per account. */
  readonly describeStreamSummaryPerSecond: number
}

export const kinesisLimits: KinesisLimits = {
  getRecordsPerSecond: 5,
  readBytesPerSecond: 2 * 1024 * 1024,
  getShardIteratorPerSecond: 5,
  listShardsPerSecond: 1_000,
  describeStreamSummaryPerSecond: 20,
}

/** A shard iterator is valid for 5 minutes after it was issued. */
const ITERATOR_TTL_MS = 5 * 60_000
const WINDOW_MS = 1_000
const KEEP_MS = 10_000

export interface SimulatedKinesisOptions {
  readonly streams: readonly { readonly name: string; readonly shards: number }[]
  readonly limits?: Partial<KinesisLimits>
  /** Time from a put until GetRecords returns the record, ms (Kinesis: typically under 1 s). */
  readonly visibilityDelayMs?: number
}

/** Who calls: its clock (virtual ms) and how long each call takes, in that clock. */
export interface Caller {
  now(): number
  /** Called when a response arrives, with the virtual time it arrives at. */
  arrive(at: number): void
  latencyMs(): number
}

interface StoredRecord {
  readonly sequenceNumber: string
  readonly data: Uint8Array
  readonly partitionKey: string
  readonly arrivedAt: number
}

interface Shard {
  readonly id: string
  readonly index: number
  readonly records: StoredRecord[]
  readonly getRecordsAt: number[]
  readonly getShardIteratorAt: number[]
  readBytes: number
  refilledAt: number
}

interface Stream {
  readonly name: string
  readonly index: number
  readonly shards: Shard[]
  readonly listShardsAt: number[]
}

export interface SimulatedKinesisStats {
  /** Every call received, by operation. */
  readonly calls: Record<string, number>
  /** Calls refused by a limit, by operation. */
  readonly throttled: Record<string, number>
  /** Calls refused by a limit, by the stream they named (every operation). */
  readonly throttledByStream: Record<string, number>
  /** GetRecords admitted, per stream and shard (`stream/shardId`). */
  readonly getRecordsByShard: Record<string, number>
  readonly recordsRead: number
  readonly bytesRead: number
}

/**
 * Admits a call at `at` if no one-second window holding it would then hold more than `limit`
 * calls, and records it. Each container's calls come in its own time order, but containers are
 * interleaved by request, so a call may come a little before others already admitted: the check
 * covers the windows after it too, not only the trailing one.
 */
export const admitInWindow = (admitted: number[], limit: number, at: number): boolean => {
  // Kept well past a window, for calls that come late.
  while (admitted.length > 0 && (admitted[0] ?? 0) <= at - KEEP_MS) admitted.shift()
  let i = admitted.length
  while (i > 0 && (admitted[i - 1] ?? 0) > at) i--
  // With `at` inserted at i (list C), any `limit` + 1 consecutive calls C[f..g] spanning under a
  // second break the limit: check the runs that include it.
  const callAt = (j: number): number => (j < i ? admitted[j] : j === i ? at : admitted[j - 1]) ?? 0
  for (let f = Math.max(0, i - limit); f <= i; f++) {
    const g = f + limit
    if (g > admitted.length) break
    if (callAt(g) - callAt(f) < WINDOW_MS) return false
  }
  admitted.splice(i, 0, at)
  return true
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] }

const metadata = (status: number) => ({ httpStatusCode: status, requestId: 'simulated' })

const throughputExceeded = (what: string) =>
  new ProvisionedThroughputExceededException({
    message: `Rate exceeded for ${what}.`,
    $metadata: metadata(400),
  })

const sequenceNumber = (shard: number, n: number): string =>
  `4${String(shard).padStart(5, '0')}${String(n).padStart(15, '0')}`

const positionOf = (sequence: string): number => Number(sequence.slice(6))

/** A string's hash, for partition keys: spreads keys over shards as Kinesis' MD5 does. */
const hash = (text: string): number => {
  let h = 2166136261
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619)
  return h >>> 0
}

/**
 * An in-memory Kinesis Data Streams, in virtual time, for the fleet simulation: ListShards,
 * GetShardIterator, GetRecords and DescribeStreamSummary through a client's `send`, and puts
 * from simulated writers. It enforces the per-shard read limits (5 GetRecords/s, 2 MiB/s, 5
 * GetShardIterator/s), ListShards per stream and DescribeStreamSummary per account, answering
 * as Kinesis does: `ProvisionedThroughputExceededException` (LimitExceededException for the
 * control-plane calls), as the SDK's own error classes with `$metadata`. A throttled call takes
 * no slot of the limit.
 */
export class SimulatedKinesis {
  readonly limits: KinesisLimits
  readonly #streams = new Map<string, Stream>()
  readonly #byIndex: Stream[] = []
  readonly #visibilityDelayMs: number
  readonly #describeAt: number[] = []
  #stats: Mutable<SimulatedKinesisStats> = SimulatedKinesis.#emptyStats()

  constructor(options: SimulatedKinesisOptions) {
    this.limits = { ...kinesisLimits, ...options.limits }
    this.#visibilityDelayMs = options.visibilityDelayMs ?? 0
    for (const { name, shards } of options.streams) {
      const stream: Stream = {
        name,
        index: this.#byIndex.length,
        listShardsAt: [],
        shards: Array.from({ length: shards }, (_, index) => ({
          id: `shardId-${String(index).padStart(12, '0')}`,
          index,
          records: [],
          getRecordsAt: [],
          getShardIteratorAt: [],
          readBytes: this.limits.readBytesPerSecond,
          refilledAt: Number.NEGATIVE_INFINITY,
        })),
      }
      this.#streams.set(name, stream)
      this.#byIndex.push(stream)
    }
  }

  static #emptyStats(): Mutable<SimulatedKinesisStats> {
    return {
      calls: {},
      throttled: {},
      throttledByStream: {},
      getRecordsByShard: {},
      recordsRead: 0,
      bytesRead: 0,
    }
  }

  stats(): SimulatedKinesisStats {
    const s = this.#stats
    return {
      calls: { ...s.calls },
      throttled: { ...s.throttled },
      throttledByStream: { ...s.throttledByStream },
      getRecordsByShard: { ...s.getRecordsByShard },
      recordsRead: s.recordsRead,
      bytesRead: s.bytesRead,
    }
  }

  resetStats(): void {
    this.#stats = SimulatedKinesis.#emptyStats()
  }

  /** A writer's PutRecord at `at`: the shard is picked by the partition key's hash. */
  put(
    streamName: string,
    data: Uint8Array,
    partitionKey: string,
    at: number,
  ): { shardId: string; sequenceNumber: string } {
    const stream = this.#stream(streamName)
    const shard = stream.shards[hash(partitionKey) % stream.shards.length] as Shard
    const record: StoredRecord = {
      sequenceNumber: sequenceNumber(shard.index, shard.records.length),
      data,
      partitionKey,
      arrivedAt: at,
    }
    shard.records.push(record)
    return { shardId: shard.id, sequenceNumber: record.sequenceNumber }
  }

  /**
   * A KinesisClient for one caller: each call is answered as of the caller's clock when it is
   * sent, and arrives `latencyMs()` later in that clock. Calls sent together (a parallel read of
   * several shards) overlap: each is answered before any arrives.
   */
  client(caller: Caller): KinesisClient {
    const client = new KinesisClient({
      region: 'us-east-1',
      credentials: { accessKeyId: 'simulated', secretAccessKey: 'simulated' },
    })
    const send = (command: unknown): Promise<unknown> => {
      const sentAt = caller.now()
      const arrivesAt = sentAt + caller.latencyMs()
      let outcome: { ok: true; output: unknown } | { ok: false; error: unknown }
      try {
        outcome = { ok: true, output: this.handle(command, sentAt) }
      } catch (error) {
        outcome = { ok: false, error }
      }
      return Promise.resolve().then(() => {
        caller.arrive(arrivesAt)
        if (!outcome.ok) throw outcome.error
        return outcome.output
      })
    }
    // scache's reader uses only send(); its overloads all come down to this one.
    client.send = send as KinesisClient['send']
    return client
  }

  /** Answers one command as of `at` (virtual ms), or throws the error Kinesis would. */
  handle(command: unknown, at: number): unknown {
    const operation = (command as { constructor: { name: string } }).constructor.name.replace(
      /Command$/,
      '',
    )
    const stats = this.#stats
    stats.calls[operation] = (stats.calls[operation] ?? 0) + 1
    const refuse = (streamName: string, error: Error): never => {
      stats.throttled[operation] = (stats.throttled[operation] ?? 0) + 1
      stats.throttledByStream[streamName] = (stats.throttledByStream[streamName] ?? 0) + 1
      throw error
    }
    if (command instanceof GetRecordsCommand) {
      const { ShardIterator: iterator = '', Limit: limit = 10_000 } = command.input
      const [streamIndex, shardIndex, position, issuedAt] = iterator.split('/').map(Number)
      const stream = this.#byIndex[streamIndex ?? -1]
      const shard = stream?.shards[shardIndex ?? -1]
      if (stream === undefined || shard === undefined || position === undefined)
        throw new InvalidArgumentException({
          message: 'Invalid ShardIterator.',
          $metadata: metadata(400),
        })
      if (at - (issuedAt ?? 0) > ITERATOR_TTL_MS)
        throw new ExpiredIteratorException({
          message: 'Iterator expired.',
          $metadata: metadata(400),
        })
      this.#refill(shard, at)
      // The byte budget first, so that a call it refuses takes no slot of the call rate.
      if (
        shard.readBytes <= 0 ||
        !admitInWindow(shard.getRecordsAt, this.limits.getRecordsPerSecond, at)
      )
        return refuse(stream.name, throughputExceeded(`shard ${shard.id} in stream ${stream.name}`))
      const visibleUntil = at - this.#visibilityDelayMs
      const records: StoredRecord[] = []
      let next = position
      let bytes = 0
      while (next < shard.records.length && records.length < limit) {
        const record = shard.records[next] as StoredRecord
        if (record.arrivedAt > visibleUntil) break
        records.push(record)
        bytes += record.data.byteLength + record.partitionKey.length
        next++
      }
      shard.readBytes -= bytes
      const key = `${stream.name}/${shard.id}`
      stats.getRecordsByShard[key] = (stats.getRecordsByShard[key] ?? 0) + 1
      stats.recordsRead += records.length
      stats.bytesRead += bytes
      const behind = shard.records[next]
      return {
        $metadata: metadata(200),
        Records: records.map((record) => ({
          SequenceNumber: record.sequenceNumber,
          Data: record.data,
          PartitionKey: record.partitionKey,
          ApproximateArrivalTimestamp: new Date(record.arrivedAt),
        })),
        NextShardIterator: `${stream.index}/${shard.index}/${next}/${at}`,
        MillisBehindLatest:
          behind === undefined || behind.arrivedAt > visibleUntil
            ? 0
            : Math.max(0, at - behind.arrivedAt),
      }
    }
    if (command instanceof GetShardIteratorCommand) {
      const input = command.input
      const stream = this.#stream(input.StreamName ?? input.StreamARN ?? '')
      const shard = stream.shards.find((s) => s.id === input.ShardId)
      if (shard === undefined)
        throw new ResourceNotFoundException({
          message: `Shard ${input.ShardId} not found.`,
          $metadata: metadata(400),
        })
      if (!admitInWindow(shard.getShardIteratorAt, this.limits.getShardIteratorPerSecond, at))
        return refuse(stream.name, throughputExceeded(`GetShardIterator on shard ${shard.id}`))
      let position: number
      switch (input.ShardIteratorType) {
        case 'TRIM_HORIZON':
          position = 0
          break
        case 'LATEST':
          position = shard.records.length
          break
        case 'AT_TIMESTAMP': {
          const from = input.Timestamp?.getTime() ?? 0
          position = shard.records.findIndex((record) => record.arrivedAt >= from)
          if (position === -1) position = shard.records.length
          break
        }
        default: {
          const sequence = input.StartingSequenceNumber ?? ''
          const found = positionOf(sequence)
          if (shard.records[found]?.sequenceNumber !== sequence)
            throw new InvalidArgumentException({
              message: `StartingSequenceNumber ${sequence} is not in shard ${shard.id}.`,
              $metadata: metadata(400),
            })
          position = input.ShardIteratorType === 'AFTER_SEQUENCE_NUMBER' ? found + 1 : found
        }
      }
      return {
        $metadata: metadata(200),
        ShardIterator: `${stream.index}/${shard.index}/${position}/${at}`,
      }
    }
    if (command instanceof ListShardsCommand) {
      const stream = this.#stream(command.input.StreamName ?? command.input.StreamARN ?? '')
      if (!admitInWindow(stream.listShardsAt, this.limits.listShardsPerSecond, at))
        return refuse(
          stream.name,
          new LimitExceededException({
            message: `Rate exceeded for ListShards on ${stream.name}.`,
            $metadata: metadata(400),
          }),
        )
      return {
        $metadata: metadata(200),
        Shards: stream.shards.map((shard) => ({
          ShardId: shard.id,
          HashKeyRange: { StartingHashKey: '0', EndingHashKey: '1' },
          SequenceNumberRange: { StartingSequenceNumber: sequenceNumber(shard.index, 0) },
        })),
      }
    }
    if (command instanceof DescribeStreamSummaryCommand) {
      const stream = this.#stream(command.input.StreamName ?? command.input.StreamARN ?? '')
      if (!admitInWindow(this.#describeAt, this.limits.describeStreamSummaryPerSecond, at))
        return refuse(
          stream.name,
          new LimitExceededException({
            message: 'Rate exceeded for DescribeStreamSummary.',
            $metadata: metadata(400),
          }),
        )
      return {
        $metadata: metadata(200),
        StreamDescriptionSummary: {
          StreamName: stream.name,
          StreamStatus: 'ACTIVE',
          RetentionPeriodHours: 24,
          OpenShardCount: stream.shards.length,
        },
      }
    }
    throw new Error(`SimulatedKinesis: ${operation} is not simulated`)
  }

  #stream(name: string): Stream {
    const stream = this.#streams.get(name)
    if (stream === undefined)
      throw new ResourceNotFoundException({
        message: `Stream ${name} not found.`,
        $metadata: metadata(400),
      })
    return stream
  }

  /** Refills a shard's read bytes for the time since the last refill (a token bucket). */
  #refill(shard: Shard, at: number): void {
    if (at <= shard.refilledAt) return
    const earned =
      shard.refilledAt === Number.NEGATIVE_INFINITY
        ? this.limits.readBytesPerSecond
        : ((at - shard.refilledAt) * this.limits.readBytesPerSecond) / 1_000
    shard.readBytes = Math.min(this.limits.readBytesPerSecond, shard.readBytes + earned)
    shard.refilledAt = at
  }
}
