import type { KinesisClient } from '@aws-sdk/client-kinesis'
import type { DecodeResult, EncodedRecord, RecordDecoder } from '../record/index.js'
import type { SourcePollOptions, SourcePollResult } from '../source/index.js'
import type { ReadPath } from './read-client.js'

export interface StreamReaderOptions {
  /** Stream name or ARN. */
  readonly stream: string
  readonly client: KinesisClient
  /**
   * `'sdk'` (default): calls go through `client.send`, so its middleware (X-Ray tracing, say)
   * sees them. `'lean'`: the reader signs its calls with the client's signer and credentials and
   * sends them to the endpoint the client resolves, over its own keep-alive agent, at a fraction
   * of the CPU; the client's middleware, request handler and retries are not used.
   */
  readonly readPath?: ReadPath
  /**
   * Margin subtracted from timestamps used as positions. AT_TIMESTAMP compares the server's
   * arrival time with our clock; re-reading a few records is harmless, missing one is not.
   */
  readonly clockSkewMs: number
  /** Most GetRecords pages read from one shard in one poll. */
  readonly maxPagesPerShard: number
  /**
   * A shard further behind its tip than this, beyond the `clockSkewMs` margin (`MillisBehindLatest`
   * after a page), is not read on: the reader restarts at now. Default: no limit but the page cap.
   */
  readonly maxBehindMs?: number
  /** Only records signed with one of these are applied (scache's own format). Default: none. */
  readonly secrets?: readonly string[]
  /** Decoders tried before scache's own format (e.g. `dynamoDbDecoder`). Default none. */
  readonly decoders?: readonly RecordDecoder[]
  /** `Limit` of each GetRecords call. Default 10,000, Kinesis' maximum. */
  readonly recordsPerPage?: number
  /**
   * Where a new reader's positions start, wall clock ms (less `clockSkewMs`), for a tool that
   * reads a stream's past. Only the first positions: a restart is always at now. Default: now.
   */
  readonly startAt?: number
  /** Wall clock, ms. */
  readonly now?: () => number
}

export interface PollOptions extends SourcePollOptions {
  /** Called for every record read, valid or not, after `apply` or `onSkip`: for tools that show them. */
  readonly onRecord?: (record: ReadRecord) => void
}

/** One record as the reader read it: where it is, when it arrived, its bytes and what they said. */
export interface ReadRecord extends EncodedRecord {
  readonly shardId: string
  readonly sequenceNumber: string
  /** Kinesis' `ApproximateArrivalTimestamp`, ms since the epoch. */
  readonly arrivedAt: number | undefined
  readonly decoded: DecodeResult
}

export interface PollResult extends SourcePollResult {
  readonly calls: {
    readonly getRecords: number
    readonly getShardIterator: number
    readonly listShards: number
    readonly describeStreamSummary: number
  }
}

/** Where a shard is read from when it has no iterator and no sequence number yet. */
