import { describe, expect, it } from 'vitest'
import { createPublisher, type ReadRecord, StreamReader } from '../../../src/index.js'
import { LeanReadClient } from '../../../src/stream/lean.js'
import { sdkReadClient } from '../../../src/stream/read-client.js'
import { useKinesis } from '../../support/kinesis.js'

const kinesis = useKinesis()

/** Everything one poll of a fresh reader on `path` sees of `stream` since `startAt`. */
const readAll = async (stream: string, path: 'sdk' | 'lean', startAt: number) => {
  const client = kinesis.client()
  let viaSdk = 0
  client.middlewareStack.add(
    (next) => (args) => {
      viaSdk++
      return next(args)
    },
    { step: 'initialize' },
  )
  const reader = new StreamReader({
    stream,
    client,
    readPath: path,
    startAt,
    clockSkewMs: 0,
    maxPagesPerShard: 10,
    recordsPerPage: 7,
  })
  const seen: ReadRecord[] = []
  const result = await reader.poll({ apply: () => {}, onRecord: (record) => seen.push(record) })
  return {
    result,
    viaSdk,
    positions: reader.positions(),
    // Shards are read in parallel: records in order within a shard, shard by shard.
    records: [...seen]
      .sort((a, b) => a.shardId.localeCompare(b.shardId))
      .map((record) => ({
        shardId: record.shardId,
        sequenceNumber: record.sequenceNumber,
        arrivedAt: record.arrivedAt,
        data: [...record.data],
        decoded: record.decoded,
      })),
  }
}

describe('the lean read path against the SDK path (kinesalite)', () => {
  it('reads the same records: shards, sequence numbers, arrival times, bytes, decodings', async () => {
    const startAt = Date.now() - 1_000
    const stream = await kinesis.createStream(3)
    const publisher = createPublisher({ streamName: stream, client: kinesis.client() })
    await publisher.invalidate(Array.from({ length: 40 }, (_, i) => `users:${i}`))
    await publisher.invalidatePrefix('orders:')
    // Bytes that are not UTF-8, and an empty-looking record, through base64 both ways.
    await kinesis.putRaw(stream, new Uint8Array([0, 255, 1, 254, 128]))
    for (let i = 0; i < 20; i++) await kinesis.putRaw(stream, `{"v":1,"keys":["k:${i}"]}`)

    const sdk = await readAll(stream, 'sdk', startAt)
    const lean = await readAll(stream, 'lean', startAt)
    expect(sdk.result.ok).toBe(true)
    expect(lean.result).toEqual(sdk.result)
    // The SDK path sends every call through the client; the lean one only the first of each kind.
    const calls = Object.values(sdk.result.calls).reduce((a, b) => a + b, 0)
    expect(sdk.viaSdk).toBe(calls)
    expect(lean.viaSdk).toBeLessThan(calls)
    expect(lean.records.length).toBeGreaterThanOrEqual(22)
    expect(lean.records).toEqual(sdk.records)
    expect(lean.positions).toEqual(sdk.positions)
    expect(lean.records.every((record) => typeof record.arrivedAt === 'number')).toBe(true)
    expect(lean.records.some((r) => r.data.join() === '0,255,1,254,128')).toBe(true)
  })

  it('lists shards, takes iterators and reads the retention as the SDK does', async () => {
    const stream = await kinesis.createStream(2)
    const client = kinesis.client()
    const lean = new LeanReadClient(client)
    const sdk = sdkReadClient(client)
    const strip = <T extends object>(output: T) => {
      const { $metadata: _, ...rest } = output as T & { $metadata?: unknown }
      return rest
    }
    const [leanShards, sdkShards] = await Promise.all(
      [lean, sdk].map((read) => read.listShards({ StreamName: stream }, undefined)),
    )
    expect(leanShards).toEqual(strip(sdkShards ?? {}))
    expect(leanShards?.Shards).toHaveLength(2)
    const [leanSummary, sdkSummary] = await Promise.all(
      [lean, sdk].map((read) => read.describeStreamSummary({ StreamName: stream }, undefined)),
    )
    expect(leanSummary).toEqual(strip(sdkSummary ?? {}))
    expect(leanSummary?.StreamDescriptionSummary?.StreamCreationTimestamp).toBeInstanceOf(Date)
    const { ShardIterator } = await lean.getShardIterator(
      {
        StreamName: stream,
        ShardId: leanShards?.Shards?.[0]?.ShardId,
        ShardIteratorType: 'AT_TIMESTAMP',
        Timestamp: new Date(Date.now() - 60_000),
      },
      undefined,
    )
    expect(typeof ShardIterator).toBe('string')
    expect(await lean.getRecords({ ShardIterator }, undefined)).toMatchObject({ Records: [] })
    // A stream that is not there: the name the reader re-lists on.
    const missing = await lean
      .listShards({ StreamName: 'no-such-stream' }, undefined)
      .catch((error: unknown) => error)
    expect(missing).toMatchObject({
      name: 'ResourceNotFoundException',
      $metadata: { httpStatusCode: 400 },
    })
    lean.destroy()
  })
})
