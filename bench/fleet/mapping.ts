import {
  GetRecordsCommand,
  GetShardIteratorCommand,
  type KinesisClient,
} from '@aws-sdk/client-kinesis'

/** The Kinesis event a Lambda event source mapping delivers (the parts a relay reads). */
export interface RelayEvent {
  readonly Records: readonly {
    readonly eventSource: 'aws:kinesis'
    readonly eventSourceARN: string
    /** `shardId-…:sequenceNumber`. */
    readonly eventID: string
    readonly kinesis: {
      readonly data: string
      readonly sequenceNumber: string
      readonly partitionKey: string
      /** Seconds since the epoch, with a fraction. */
      readonly approximateArrivalTimestamp: number
    }
  }[]
}

export interface MappingOptions {
  readonly stream: string
  readonly shardId: string
  /** A client on the simulated Kinesis, in the mapping's clock (its GetRecords count). */
  readonly kinesis: KinesisClient
  /**
   * The relay, as the mapping invokes it; a rejection has the batch retried. Its waits must take
   * `clock`'s time (the relay's `sleep` option), not real time.
   */
  readonly handler: (event: RelayEvent) => Promise<void>
  /** The clock of this shard's poller and relay invocation (one at a time per shard). */
  readonly clock: { t: number }
  /** Most records per invocation (`BatchSize`, Lambda's default for Kinesis: 100). */
  readonly batchSize: number
  /** How often an idle shard is polled, ms (Lambda: about once a second). */
  readonly pollIntervalMs: number
  /** From a batch read to the handler running (invoke overhead), ms. */
  readonly invokeMs: number
  /** Wait before retrying a batch whose invocation failed, ms. */
  readonly retryDelayMs: number
}

export interface MappingStats {
  polls: number
  throttledPolls: number
  invocations: number
  failedInvocations: number
  records: number
  /** Wall of each invocation in virtual time (invoke overhead + the relay's calls), ms. */
  readonly durationsMs: number[]
}

/**
 * One shard of a Lambda event source mapping for Kinesis, in virtual time, as Lambda's
 * documentation describes it: a poller per shard reads with GetRecords about once a second (so
 * it takes one of the shard's 5 reads per second), invokes the function synchronously with up to
 * `BatchSize` records, and reads again at once while batches come full; a failed invocation is
 * retried with the same batch (ParallelizationFactor 1: one batch in flight per shard, in order).
 * `step(at)` runs one poll (and its invocation) and returns when the next should run.
 */
export class ShardMapping {
  readonly stats: MappingStats = {
    polls: 0,
    throttledPolls: 0,
    invocations: 0,
    failedInvocations: 0,
    records: 0,
    durationsMs: [],
  }
  readonly #o: MappingOptions
  #iterator: string | undefined
  #pending: RelayEvent | undefined

  constructor(options: MappingOptions) {
    this.#o = options
  }

  async step(at: number): Promise<number> {
    const o = this.#o
    const clock = o.clock
    clock.t = Math.max(clock.t, at)
    const started = clock.t
    let event = this.#pending
    if (event === undefined) {
      try {
        if (this.#iterator === undefined) {
          const out = await o.kinesis.send(
            new GetShardIteratorCommand({
              StreamName: o.stream,
              ShardId: o.shardId,
              ShardIteratorType: 'TRIM_HORIZON',
            }),
          )
          this.#iterator = out.ShardIterator
        }
        this.stats.polls++
        const out = await o.kinesis.send(
          new GetRecordsCommand({ ShardIterator: this.#iterator, Limit: o.batchSize }),
        )
        this.#iterator = out.NextShardIterator
        const records = out.Records ?? []
        if (records.length === 0) return Math.max(started + o.pollIntervalMs, clock.t)
        event = {
          Records: records.map((record) => ({
            eventSource: 'aws:kinesis' as const,
            eventSourceARN: `arn:aws:kinesis:us-east-1:000000000000:stream/${o.stream}`,
            eventID: `${o.shardId}:${record.SequenceNumber}`,
            kinesis: {
              data: Buffer.from(record.Data ?? new Uint8Array()).toString('base64'),
              sequenceNumber: record.SequenceNumber ?? '',
              partitionKey: record.PartitionKey ?? '',
              approximateArrivalTimestamp:
                (record.ApproximateArrivalTimestamp?.getTime() ?? 0) / 1_000,
            },
          })),
        }
      } catch (error) {
        if ((error as Error).name === 'ProvisionedThroughputExceededException')
          this.stats.throttledPolls++
        return Math.max(started + o.pollIntervalMs, clock.t)
      }
    }
    clock.t += o.invokeMs
    this.stats.invocations++
    try {
      await o.handler(event)
      this.#pending = undefined
      this.stats.records += event.Records.length
      this.stats.durationsMs.push(clock.t - started)
    } catch {
      this.stats.failedInvocations++
      this.#pending = event
      return clock.t + o.retryDelayMs
    }
    // A full batch means more is waiting: read again at once.
    if (event.Records.length >= o.batchSize) return clock.t
    return Math.max(started + o.pollIntervalMs, clock.t)
  }
}
