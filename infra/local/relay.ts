import {
  type _Record,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type KinesisClient,
  ListShardsCommand,
} from '@aws-sdk/client-kinesis'
import type { KinesisStreamEvent } from 'aws-lambda'
import type { RelayEvent, RelayHandler } from '../../src/index.js'

export interface RelayDriverOptions {
  readonly client: KinesisClient
  readonly stream: string
  readonly handler: RelayHandler
  /** Records per invocation, as the mapping's BatchSize. Default 100. */
  readonly batchSize?: number
  /** Attempts of a batch before it is bisected (MaximumRetryAttempts + 1). Default 3. */
  readonly attempts?: number
  /** Where new shards start: 'TRIM_HORIZON' (default) or 'LATEST' for shards open at start. */
  readonly start?: 'TRIM_HORIZON' | 'LATEST'
}

export interface DrainReport {
  /** Invocations of the handler, failed ones included. */
  invocations: number
  failedInvocations: number
  /** Batches (of one record, after bisection) handed to the on-failure path. */
  gaveUp: number
  records: number
}

interface ShardState {
  readonly parents: readonly string[]
  sequenceNumber?: string
  finished: boolean
}

/**
 * Drives a relay handler the way Lambda's event source mapping for Kinesis does: one poller per
 * shard, batches in shard order (ParallelizationFactor 1), a parent shard read to its end before
 * its children, a failed batch retried, then bisected (BisectBatchOnFunctionError), and a single
 * record that keeps failing sent to the on-failure destination, here the same handler with an
 * SQS-shaped event, as the template wires it. A shard's position moves only past delivered
 * batches, so a failed drain is retried by the next one.
 */
export class RelayDriver {
  readonly #options: RelayDriverOptions
  readonly #shards = new Map<string, ShardState>()
  #timer: NodeJS.Timeout | undefined
  #running: Promise<unknown> = Promise.resolve()

  constructor(options: RelayDriverOptions) {
    this.#options = options
  }

  /** Reads every readable shard to its tip, delivering batches; repeats until nothing is left. */
  async drain(): Promise<DrainReport> {
    const report: DrainReport = { invocations: 0, failedInvocations: 0, gaveUp: 0, records: 0 }
    for (let round = 0; round < 16; round++) {
      await this.#list()
      const readable = [...this.#shards.entries()].filter(
        ([, shard]) =>
          !shard.finished &&
          shard.parents.every((parent) => this.#shards.get(parent)?.finished ?? true),
      )
      if (readable.length === 0) break
      await Promise.all(readable.map(([id, shard]) => this.#readShard(id, shard, report)))
      if (readable.every(([, shard]) => !shard.finished)) break
    }
    return report
  }

  /** Drains every `intervalMs`, as the mapping polls about once a second. */
  start(intervalMs = 500): void {
    const tick = () => {
      this.#running = this.drain()
        .catch((error) => console.error(`relay driver: ${String(error)}`))
        .finally(() => {
          if (this.#timer !== undefined) this.#timer = setTimeout(tick, intervalMs)
        })
    }
    this.#timer = setTimeout(tick, 0)
  }

  async stop(): Promise<void> {
    clearTimeout(this.#timer)
    this.#timer = undefined
    await this.#running
  }

  async #list(): Promise<void> {
    const { Shards = [] } = await this.#options.client.send(
      new ListShardsCommand({ StreamName: this.#options.stream }),
    )
    for (const shard of Shards) {
      const id = shard.ShardId
      if (id === undefined || this.#shards.has(id)) continue
      const parents = [shard.ParentShardId, shard.AdjacentParentShardId].filter(
        (parent): parent is string => parent !== undefined,
      )
      this.#shards.set(id, { parents, finished: false })
    }
  }

  async #readShard(id: string, shard: ShardState, report: DrainReport) {
    const { client, stream } = this.#options
    const fresh = shard.sequenceNumber === undefined
    const { ShardIterator } = await client.send(
      new GetShardIteratorCommand({
        StreamName: stream,
        ShardId: id,
        ...(fresh
          ? { ShardIteratorType: this.#options.start ?? 'TRIM_HORIZON' }
          : {
              ShardIteratorType: 'AFTER_SEQUENCE_NUMBER',
              StartingSequenceNumber: shard.sequenceNumber,
            }),
      }),
    )
    let iterator = ShardIterator
    while (iterator !== undefined) {
      const page = await client.send(
        new GetRecordsCommand({ ShardIterator: iterator, Limit: this.#options.batchSize ?? 100 }),
      )
      const records = page.Records ?? []
      if (records.length > 0) {
        await this.#deliver(id, records, report)
        shard.sequenceNumber = records.at(-1)?.SequenceNumber
        report.records += records.length
      }
      if (page.NextShardIterator == null) {
        shard.finished = true
        return
      }
      if (records.length === 0) return
      iterator = page.NextShardIterator
    }
  }

  /** Delivers a batch: retried, then bisected; a lone record that keeps failing goes on-failure. */
  async #deliver(shard: string, records: readonly _Record[], report: DrainReport) {
    const attempts = this.#options.attempts ?? 3
    for (let attempt = 0; attempt < attempts; attempt++) {
      report.invocations++
      try {
        await this.#options.handler(kinesisEvent(shard, records, this.#options.stream))
        return
      } catch {
        report.failedInvocations++
      }
    }
    if (records.length > 1) {
      const half = Math.ceil(records.length / 2)
      await this.#deliver(shard, records.slice(0, half), report)
      await this.#deliver(shard, records.slice(half), report)
      return
    }
    report.gaveUp++
    report.invocations++
    // The on-failure destination's message, delivered to the relay by its SQS mapping. If this
    // fails too, the drain throws and the shard stays where it was.
    await this.#options.handler(onFailureEvent(shard, records))
  }
}

/** The event Lambda's Kinesis mapping invokes a function with (`KinesisStreamEvent`). */
export const kinesisEvent = (
  shard: string,
  records: readonly _Record[],
  stream: string,
): KinesisStreamEvent => ({
  Records: records.map((record) => ({
    eventSource: 'aws:kinesis',
    eventVersion: '1.0',
    eventID: `${shard}:${record.SequenceNumber}`,
    eventName: 'aws:kinesis:record',
    eventSourceARN: `arn:aws:kinesis:us-east-1:000000000000:stream/${stream}`,
    awsRegion: 'us-east-1',
    invokeIdentityArn: 'arn:aws:iam::000000000000:role/relay',
    kinesis: {
      kinesisSchemaVersion: '1.0',
      partitionKey: record.PartitionKey ?? '',
      sequenceNumber: record.SequenceNumber ?? '',
      data: Buffer.from(record.Data ?? new Uint8Array()).toString('base64'),
      approximateArrivalTimestamp: (record.ApproximateArrivalTimestamp?.getTime() ?? 0) / 1_000,
    },
  })),
})

/** What the on-failure queue delivers: the mapping's record of a batch it gave up on. */
export const onFailureEvent = (shard: string, records: readonly _Record[]): RelayEvent => ({
  Records: [
    {
      eventSource: 'aws:sqs',
      messageId: `${shard}:${records[0]?.SequenceNumber}`,
      body: JSON.stringify({
        KinesisBatchInfo: {
          shardId: shard,
          startSequenceNumber: records[0]?.SequenceNumber,
          endSequenceNumber: records.at(-1)?.SequenceNumber,
          batchSize: records.length,
        },
      }),
    },
  ],
})
