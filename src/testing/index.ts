/**
 * Test your handlers without Kinesis: an in-memory stream that answers the Kinesis calls scache
 * makes (through a client you pass as `stream.client` and to `createPublisher`), and a clock you
 * move by hand (`createTestClock`). The real reader, publisher and engine run against it; only
 * the network is gone. Import from `scache/testing`; it is not for production code.
 */
import type { KinesisClient } from '@aws-sdk/client-kinesis'

interface StoredRecord {
  readonly SequenceNumber: string
  readonly Data: Uint8Array
  readonly PartitionKey: string
  readonly ApproximateArrivalTimestamp: Date
}

const SHARD_ID = 'shardId-000000000000'

const sequenceOf = (index: number): string => String(index + 1).padStart(20, '0')

const missing = (stream: string): Error => {
  const error = new Error(`Stream ${stream} not found`)
  error.name = 'ResourceNotFoundException'
  return error
}

/** A clock for `createScache({ clock: { now: clock.now } })`: time stands still until moved. */
export interface TestClock {
  readonly now: () => number
  /** Moves the clock forward (or back, with a negative `ms`). */
  advance(ms: number): void
}

export const createTestClock = (start: number = Date.now()): TestClock => {
  let at = start
  return {
    now: () => at,
    advance: (ms) => {
      at += ms
    },
  }
}

/**
 * Streams in memory, one shard each. `client` answers ListShards, GetShardIterator, GetRecords,
 * PutRecords and DescribeStreamSummary as Kinesis does for one shard; other calls throw.
 */
export class MemoryKinesis {
  readonly #streams = new Map<string, StoredRecord[]>()
  readonly #now: () => number
  /** Pass as `stream: { client }` and `createPublisher({ client })`. */
  readonly client: KinesisClient

  constructor(options: { readonly now?: () => number } = {}) {
    this.#now = options.now ?? Date.now
    this.client = { send: (command: unknown) => this.#send(command) } as unknown as KinesisClient
  }

  /** Creates an empty stream; returns its name. */
  createStream(name: string): string {
    this.#streams.set(name, [])
    return name
  }

  /** The records put on a stream, decoded as UTF-8 text: what writers published. */
  records(stream: string): string[] {
    return this.#records(stream).map((record) => new TextDecoder().decode(record.Data))
  }

  #records(stream: string | undefined): StoredRecord[] {
    const name = stream?.startsWith('arn:') ? stream.slice(stream.lastIndexOf('/') + 1) : stream
    const records = name === undefined ? undefined : this.#streams.get(name)
    if (records === undefined) throw missing(String(name))
    return records
  }

  async #send(command: unknown): Promise<unknown> {
    const name = (command as { constructor: { name: string } }).constructor.name
    const input = (command as { input: Record<string, unknown> }).input
    const stream = (input.StreamName ?? input.StreamARN) as string | undefined
    switch (name) {
      case 'ListShardsCommand':
        this.#records(stream)
        return {
          Shards: [{ ShardId: SHARD_ID, SequenceNumberRange: { StartingSequenceNumber: '0' } }],
        }
      case 'DescribeStreamSummaryCommand':
        this.#records(stream)
        return { StreamDescriptionSummary: { RetentionPeriodHours: 24 } }
      case 'GetShardIteratorCommand': {
        const records = this.#records(stream)
        let index = 0
        if (input.ShardIteratorType === 'LATEST') index = records.length
        else if (input.ShardIteratorType === 'AT_TIMESTAMP') {
          const at = (input.Timestamp as Date).getTime()
          index = records.findIndex((r) => r.ApproximateArrivalTimestamp.getTime() >= at)
          if (index === -1) index = records.length
        } else if (input.ShardIteratorType === 'AFTER_SEQUENCE_NUMBER') {
          index = Number(input.StartingSequenceNumber)
        }
        return { ShardIterator: JSON.stringify([stream, index]) }
      }
      case 'GetRecordsCommand': {
        const [iteratorStream, from] = JSON.parse(String(input.ShardIterator)) as [string, number]
        const records = this.#records(iteratorStream)
        const limit = typeof input.Limit === 'number' ? input.Limit : 10_000
        const page = records.slice(from, from + limit)
        return {
          Records: page,
          NextShardIterator: JSON.stringify([iteratorStream, from + page.length]),
          MillisBehindLatest: 0,
        }
      }
      case 'PutRecordsCommand': {
        const records = this.#records(stream)
        const entries = input.Records as { Data: Uint8Array; PartitionKey: string }[]
        const arrivedAt = new Date(this.#now())
        const acknowledged = entries.map((entry) => {
          const SequenceNumber = sequenceOf(records.length)
          records.push({ ...entry, SequenceNumber, ApproximateArrivalTimestamp: arrivedAt })
          return { SequenceNumber, ShardId: SHARD_ID }
        })
        return { FailedRecordCount: 0, Records: acknowledged }
      }
      default:
        throw new Error(`scache/testing: ${name} is not simulated`)
    }
  }
}
