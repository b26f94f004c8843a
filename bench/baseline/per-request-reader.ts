import {
  GetRecordsCommand,
  GetShardIteratorCommand,
  type KinesisClient,
  ListShardsCommand,
} from '@aws-sdk/client-kinesis'

export interface PerRequestPoll {
  readonly records: number
  readonly calls: { listShards: number; getShardIterator: number; getRecords: number }
}

/**
 * The baseline: the read algorithm of the Go project a-h/scache, which it runs on every request.
 * List the shards; then, one shard after another, take a new iterator (after the last sequence
 * number read from the shard, else LATEST) and read it. Its positions are kept the way it keeps
 * them: only for shards that returned records in this read, so a quiet shard starts again at
 * LATEST (its lost-invalidation defect; the cost is the same either way).
 *
 * The Go code reads a shard until `NextShardIterator` is null, which an open shard never returns;
 * this stops at the first page that is caught up (`MillisBehindLatest` 0), one GetRecords per
 * shard when nothing is new: the cheapest reading of the algorithm.
 */
export class PerRequestReader {
  #positions = new Map<string, string>()

  constructor(
    readonly client: KinesisClient,
    readonly stream: string,
  ) {}

  async poll(): Promise<PerRequestPoll> {
    const calls = { listShards: 0, getShardIterator: 0, getRecords: 0 }
    const shardIds: string[] = []
    let nextToken: string | undefined
    do {
      calls.listShards++
      const page = await this.client.send(
        new ListShardsCommand(
          nextToken === undefined ? { StreamName: this.stream } : { NextToken: nextToken },
        ),
      )
      for (const shard of page.Shards ?? []) if (shard.ShardId) shardIds.push(shard.ShardId)
      nextToken = page.NextToken
    } while (nextToken !== undefined)

    const positions = new Map<string, string>()
    let records = 0
    for (const shardId of shardIds) {
      const from = this.#positions.get(shardId)
      calls.getShardIterator++
      const { ShardIterator } = await this.client.send(
        new GetShardIteratorCommand({
          StreamName: this.stream,
          ShardId: shardId,
          ...(from === undefined
            ? { ShardIteratorType: 'LATEST' }
            : { ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', StartingSequenceNumber: from }),
        }),
      )
      let iterator = ShardIterator
      while (iterator !== undefined) {
        calls.getRecords++
        const page = await this.client.send(new GetRecordsCommand({ ShardIterator: iterator }))
        for (const record of page.Records ?? []) {
          records++
          if (record.SequenceNumber) positions.set(shardId, record.SequenceNumber)
        }
        if ((page.MillisBehindLatest ?? 0) === 0) break
        iterator = page.NextShardIterator
      }
    }
    this.#positions = positions
    return { records, calls }
  }
}
