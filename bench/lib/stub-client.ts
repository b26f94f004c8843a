import {
  GetRecordsCommand,
  GetShardIteratorCommand,
  KinesisClient,
  ListShardsCommand,
} from '@aws-sdk/client-kinesis'

/**
 * A real KinesisClient whose `send` answers at once, without I/O: one shard, an iterator, and
 * empty GetRecords pages (nothing new on the stream). For measuring scache's own CPU.
 */
export const instantClient = (): KinesisClient => {
  const client = new KinesisClient({
    region: 'us-east-1',
    credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' },
  })
  const answer = async (command: unknown): Promise<unknown> => {
    const $metadata = { httpStatusCode: 200 }
    if (command instanceof ListShardsCommand)
      return {
        $metadata,
        Shards: [
          {
            ShardId: 'shardId-000000000000',
            HashKeyRange: { StartingHashKey: '0', EndingHashKey: '1' },
            SequenceNumberRange: { StartingSequenceNumber: '1' },
          },
        ],
      }
    if (command instanceof GetShardIteratorCommand) return { $metadata, ShardIterator: 'it' }
    if (command instanceof GetRecordsCommand)
      return { $metadata, Records: [], NextShardIterator: 'it', MillisBehindLatest: 0 }
    throw new Error(`instantClient: unexpected ${String(command)}`)
  }
  // Only send() is used by scache's reader; its overloads all come down to this.
  client.send = answer as KinesisClient['send']
  return client
}
