import {
  GetRecordsCommand,
  GetShardIteratorCommand,
  ProvisionedThroughputExceededException,
} from '@aws-sdk/client-kinesis'
import { describe, expect, it } from 'vitest'
import { admitInWindow, SimulatedKinesis } from '../../../bench/fleet/kinesis.js'
import { encodeRecord, StreamReader } from '../../../src/index.js'

const iteratorOf = (kinesis: SimulatedKinesis, at: number, type = 'TRIM_HORIZON'): string =>
  (
    kinesis.handle(
      new GetShardIteratorCommand({
        StreamName: 's',
        ShardId: 'shardId-000000000000',
        ShardIteratorType: type as 'TRIM_HORIZON',
      }),
      at,
    ) as { ShardIterator: string }
  ).ShardIterator

const thrown = (fn: () => unknown): unknown => {
  try {
    fn()
  } catch (error) {
    return error
  }
  throw new Error('did not throw')
}

describe('the fleet simulation’s Kinesis', () => {
  it('admits 5 GetRecords per second per shard, throttles the 6th as the SDK names it, and frees the slot a second later', () => {
    const kinesis = new SimulatedKinesis({ streams: [{ name: 's', shards: 2 }] })
    const iterator = iteratorOf(kinesis, 0)
    for (let i = 0; i < 5; i++)
      kinesis.handle(new GetRecordsCommand({ ShardIterator: iterator }), 100 * i)
    const error = thrown(() =>
      kinesis.handle(new GetRecordsCommand({ ShardIterator: iterator }), 500),
    )
    expect(error).toBeInstanceOf(ProvisionedThroughputExceededException)
    expect(error).toMatchObject({
      name: 'ProvisionedThroughputExceededException',
      $metadata: { httpStatusCode: 400 },
    })
    // The refused call took no slot: the window opens again once the first call is a second old.
    expect(() =>
      kinesis.handle(new GetRecordsCommand({ ShardIterator: iterator }), 1_000),
    ).not.toThrow()
    expect(kinesis.stats()).toMatchObject({
      calls: { GetRecords: 7 },
      throttled: { GetRecords: 1 },
      throttledByStream: { s: 1 },
      getRecordsByShard: { 's/shardId-000000000000': 6 },
    })
  })

  it('counts a call that comes late (another container behind in time) against the windows after it', () => {
    const admitted: number[] = []
    for (const at of [500, 600, 700, 800, 900]) expect(admitInWindow(admitted, 5, at)).toBe(true)
    expect(admitInWindow(admitted, 5, 100)).toBe(false)
    expect(admitInWindow(admitted, 5, 1_450)).toBe(false)
    expect(admitInWindow(admitted, 5, 1_550)).toBe(true)
  })

  it('limits GetShardIterator to 5 per second per shard, and read bytes to 2 MiB per second', () => {
    const kinesis = new SimulatedKinesis({ streams: [{ name: 's', shards: 1 }] })
    for (let i = 0; i < 5; i++) iteratorOf(kinesis, i)
    expect(thrown(() => iteratorOf(kinesis, 5))).toBeInstanceOf(
      ProvisionedThroughputExceededException,
    )
    const big = new Uint8Array(1024 * 1024)
    for (let i = 0; i < 3; i++) kinesis.put('s', big, `k${i}`, 0)
    const iterator = iteratorOf(kinesis, 2_000)
    const page = kinesis.handle(new GetRecordsCommand({ ShardIterator: iterator }), 2_000) as {
      Records: unknown[]
      NextShardIterator: string
    }
    expect(page.Records).toHaveLength(3)
    // 3 MiB read against a 2 MiB budget: the shard is throttled until the deficit refills.
    expect(
      thrown(() =>
        kinesis.handle(new GetRecordsCommand({ ShardIterator: page.NextShardIterator }), 2_300),
      ),
    ).toBeInstanceOf(ProvisionedThroughputExceededException)
    expect(() =>
      kinesis.handle(new GetRecordsCommand({ ShardIterator: page.NextShardIterator }), 2_600),
    ).not.toThrow()
  })

  it('serves scache’s StreamReader in virtual time: records after the visibility delay, positions kept', async () => {
    const kinesis = new SimulatedKinesis({
      streams: [{ name: 's', shards: 2 }],
      visibilityDelayMs: 250,
    })
    const clock = { t: 10_000 }
    const reader = new StreamReader({
      stream: 's',
      client: kinesis.client({
        now: () => clock.t,
        arrive: (at) => {
          clock.t = Math.max(clock.t, at)
        },
        latencyMs: () => 10,
      }),
      clockSkewMs: 5_000,
      maxPagesPerShard: 5,
      now: () => clock.t,
    })
    const keys: string[] = []
    const poll = () => reader.poll({ apply: (invalidation) => keys.push(...invalidation.keys) })
    expect((await poll()).ok).toBe(true)
    for (const key of ['a', 'b', 'c'])
      kinesis.put(
        's',
        encodeRecord({ keys: [key], prefixes: [], all: false }, clock.t),
        key,
        clock.t,
      )
    clock.t += 100
    await poll()
    expect(keys).toEqual([])
    clock.t += 300
    const result = await poll()
    expect(keys.sort()).toEqual(['a', 'b', 'c'])
    // Steady state: one GetRecords per shard, the two sent together (one latency, not two).
    expect(result.calls).toEqual({
      getRecords: 2,
      getShardIterator: 0,
      listShards: 0,
      describeStreamSummary: 0,
    })
    expect(kinesis.stats().calls.ListShards).toBe(1)
    const before = clock.t
    await poll()
    expect(clock.t - before).toBe(10)
  })
})
