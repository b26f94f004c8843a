import { setTimeout as sleep } from 'node:timers/promises'
import {
  DescribeStreamSummaryCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type KinesisClient,
  ListShardsCommand,
  PutRecordCommand,
} from '@aws-sdk/client-kinesis'
import { afterEach, describe, expect, it } from 'vitest'
import { useKinesis } from '../../support/kinesis.js'
import {
  type LimitsProxy,
  type LimitsProxyOptions,
  startLimitsProxy,
} from '../../support/limits-proxy.js'

const MiB = 1024 * 1024
const THROTTLED = 'ProvisionedThroughputExceededException'

const kinesis = useKinesis()
const proxies: LimitsProxy[] = []

afterEach(async () => {
  await Promise.all(proxies.splice(0).map((proxy) => proxy.close()))
})

const startProxy = async (options: Partial<LimitsProxyOptions> = {}): Promise<LimitsProxy> => {
  const proxy = await startLimitsProxy({ target: kinesis.endpoint, ...options })
  proxies.push(proxy)
  return proxy
}

/** The error a call failed with, or undefined if it succeeded. */
const failure = async (call: Promise<unknown>): Promise<Error | undefined> => {
  try {
    await call
    return undefined
  } catch (error) {
    return error as Error
  }
}

const statusOf = (error: Error | undefined): number | undefined =>
  (error as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode

const iteratorFor = async (client: KinesisClient, stream: string, shard: string) => {
  const { ShardIterator } = await client.send(
    new GetShardIteratorCommand({
      StreamName: stream,
      ShardId: shard,
      ShardIteratorType: 'TRIM_HORIZON',
    }),
  )
  return ShardIterator ?? ''
}

const getRecords = (client: KinesisClient, iterator: string) =>
  client.send(new GetRecordsCommand({ ShardIterator: iterator }))

const listShards = (client: KinesisClient, stream: string) =>
  client.send(new ListShardsCommand({ StreamName: stream }))

/** Outcome names of `count` sequential ListShards calls: 'ok' or the error's name. */
const outcomes = async (client: KinesisClient, stream: string, count: number) => {
  const names: string[] = []
  for (let i = 0; i < count; i++) {
    const error = await failure(listShards(client, stream))
    names.push(error?.name ?? 'ok')
  }
  return names
}

describe('the limits proxy, per-shard limits (against kinesalite)', () => {
  it('throttles the 6th GetRecords within a second on a shard, not on another, and recovers', async () => {
    const stream = await kinesis.createStream(2)
    const [first = '', second = ''] = await kinesis.openShards(stream)
    const proxy = await startProxy()
    const client = proxy.client()
    const firstIterator = await iteratorFor(client, stream, first)
    const secondIterator = await iteratorFor(client, stream, second)

    for (let i = 0; i < 5; i++) await getRecords(client, firstIterator)
    const throttled = await failure(getRecords(client, firstIterator))
    expect(throttled?.name).toBe(THROTTLED)
    expect(statusOf(throttled)).toBe(400)
    expect(throttled?.message).toBe(
      `Rate exceeded for shard ${first} in stream ${stream} under account 000000000000.`,
    )
    // The other shard has its own budget.
    await expect(getRecords(client, secondIterator)).resolves.toBeDefined()

    await sleep(1_000)
    await expect(getRecords(client, firstIterator)).resolves.toBeDefined()
    expect(proxy.stats().throttled).toEqual({ GetRecords: 1 })
  })

  it('traces GetRecords through NextShardIterator, and puts iterators it never saw in one bucket', async () => {
    const stream = await kinesis.createStream(2)
    const [first = '', second = ''] = await kinesis.openShards(stream)
    const proxy = await startProxy({ getRecordsPerSecond: 2 })
    const client = proxy.client()

    // Iterators the proxy handed out, then their successors: all count against shard `first`.
    let iterator = await iteratorFor(client, stream, first)
    iterator = (await getRecords(client, iterator)).NextShardIterator ?? ''
    await getRecords(client, iterator)
    expect((await failure(getRecords(client, iterator)))?.message).toContain(first)

    // Iterators straight from the emulator: two shards, one shared 'unknown' budget.
    const direct = kinesis.client()
    await getRecords(client, await iteratorFor(direct, stream, first))
    await getRecords(client, await iteratorFor(direct, stream, second))
    const unknown = await failure(getRecords(client, await iteratorFor(direct, stream, second)))
    expect(unknown?.name).toBe(THROTTLED)
    expect(unknown?.message).toContain('shard unknown')
  })

  it('forgets the oldest iterators beyond maxIterators', async () => {
    const stream = await kinesis.createStream(2)
    const [first = '', second = ''] = await kinesis.openShards(stream)
    const proxy = await startProxy({ getRecordsPerSecond: 1, maxIterators: 1 })
    const client = proxy.client()
    const forgotten = await iteratorFor(client, stream, first)
    await iteratorFor(client, stream, second)

    await getRecords(client, forgotten)
    expect((await failure(getRecords(client, forgotten)))?.message).toContain('shard unknown')
  })

  it('throttles the 6th GetShardIterator within a second on a shard, by name or ARN', async () => {
    const stream = await kinesis.createStream(2)
    const [first = '', second = ''] = await kinesis.openShards(stream)
    const proxy = await startProxy()
    const client = proxy.client()

    for (let i = 0; i < 4; i++) await iteratorFor(client, stream, first)
    // kinesalite knows no StreamARN and rejects the call, but the proxy has counted it already;
    // the short shard id names the same shard.
    const byArn = await failure(
      client.send(
        new GetShardIteratorCommand({
          StreamARN: `arn:aws:kinesis:us-east-1:000000000000:stream/${stream}`,
          ShardId: '0',
          ShardIteratorType: 'TRIM_HORIZON',
        }),
      ),
    )
    expect(byArn?.name).toBe('ValidationException')
    const throttled = await failure(iteratorFor(client, stream, first))
    expect(throttled?.name).toBe(THROTTLED)
    expect(throttled?.message).toContain(`shard ${first} in stream ${stream}`)
    await expect(iteratorFor(client, stream, second)).resolves.not.toBe('')

    await sleep(1_000)
    await expect(iteratorFor(client, stream, first)).resolves.not.toBe('')
    expect(proxy.stats().throttled).toEqual({ GetShardIterator: 1 })
  })

  it('throttles GetRecords after a read beyond 2 MiB until the byte budget has refilled', async () => {
    const stream = await kinesis.createStream(1)
    const [shard = ''] = await kinesis.openShards(stream)
    const recordBytes = 1_000_000
    const admin = kinesis.client({ maxAttempts: 3 })
    for (let i = 0; i < 3; i++) {
      await admin.send(
        new PutRecordCommand({
          StreamName: stream,
          PartitionKey: 'k',
          Data: new Uint8Array(recordBytes).fill(i),
        }),
      )
    }
    const proxy = await startProxy()
    const client = proxy.client()

    const read = await getRecords(client, await iteratorFor(client, stream, shard))
    const readAt = performance.now()
    expect(read.Records?.map((record) => record.Data?.length)).toEqual([
      recordBytes,
      recordBytes,
      recordBytes,
    ])
    const next = read.NextShardIterator ?? ''
    const throttled = await failure(getRecords(client, next))
    expect(throttled?.name).toBe(THROTTLED)

    // The bucket went to 2 MiB - 3 MB; it is positive again once the deficit has refilled.
    const refillMs = Math.ceil(((3 * recordBytes - 2 * MiB) / (2 * MiB)) * 1_000)
    await sleep(refillMs + 50 - (performance.now() - readAt))
    await expect(getRecords(client, next)).resolves.toBeDefined()
    expect(proxy.stats().throttled).toEqual({ GetRecords: 1 })
  })

  it('lets a burst of 20 GetRecords and GetShardIterator through with enforceLimits: false', async () => {
    const stream = await kinesis.createStream(1)
    const [shard = ''] = await kinesis.openShards(stream)
    const proxy = await startProxy({ enforceLimits: false })
    const client = proxy.client()
    const iterators = await Promise.all(
      Array.from({ length: 20 }, () => iteratorFor(client, stream, shard)),
    )
    const reads = await Promise.all(iterators.map((iterator) => getRecords(client, iterator)))
    expect(reads).toHaveLength(20)
    expect(proxy.stats().throttled).toEqual({})
    expect(proxy.stats().calls).toEqual({ GetShardIterator: 20, GetRecords: 20 })
  })

  it('answerReads: answers GetRecords itself with no records and the same iterator, within the limits', async () => {
    const stream = await kinesis.createStream(1)
    const [shard = ''] = await kinesis.openShards(stream)
    await kinesis.putRaw(stream, Buffer.from('on the stream'), 'k')
    const proxy = await startProxy({ answerReads: true })
    const client = proxy.client()
    // GetShardIterator is forwarded: the iterator is the emulator's own.
    const iterator = await iteratorFor(client, stream, shard)
    await expect(getRecords(kinesis.client(), iterator)).resolves.toMatchObject({
      Records: [expect.anything()],
    })

    const answered = await getRecords(client, iterator)
    expect(answered.Records).toEqual([])
    expect(answered.NextShardIterator).toBe(iterator)
    expect(answered.MillisBehindLatest).toBe(0)
    // The shard's budget still applies: 5 reads a second, the first one above included.
    const burst = await Promise.all(
      Array.from({ length: 5 }, () => failure(getRecords(client, iterator))),
    )
    expect(burst.filter((error) => error?.name === THROTTLED)).toHaveLength(1)
    expect(proxy.stats().calls).toEqual({ GetShardIterator: 1, GetRecords: 6 })
  })

  it('passes other operations through unlimited', async () => {
    const stream = await kinesis.createStream(1)
    const proxy = await startProxy()
    const client = proxy.client()
    const results = await Promise.all(Array.from({ length: 20 }, () => listShards(client, stream)))
    expect(results.every((result) => result.Shards?.length === 1)).toBe(true)
  })
})

describe('the limits proxy, injected faults (against kinesalite)', () => {
  it('5xx: answers 500 InternalFailure, and the emulator never sees the call', async () => {
    const stream = await kinesis.createStream(1)
    const [shard = ''] = await kinesis.openShards(stream)
    const proxy = await startProxy()
    const client = proxy.client()
    proxy.inject({ kind: '5xx', times: 1 })

    const error = await failure(
      client.send(
        new PutRecordCommand({
          StreamName: stream,
          PartitionKey: 'k',
          Data: new TextEncoder().encode('lost'),
        }),
      ),
    )
    expect(error?.name).toBe('InternalFailure')
    expect(statusOf(error)).toBe(500)
    const { Records = [] } = await getRecords(
      kinesis.client(),
      await iteratorFor(kinesis.client(), stream, shard),
    )
    expect(Records).toHaveLength(0)
    await expect(listShards(client, stream)).resolves.toBeDefined()
  })

  it('reset: the client sees a network error with no HTTP response', async () => {
    const stream = await kinesis.createStream(1)
    const proxy = await startProxy()
    const client = proxy.client()
    proxy.inject({ kind: 'reset', times: 1 })

    // The SDK names ECONNRESET a TimeoutError too (it is retryable); the code tells them apart.
    const error = await failure(listShards(client, stream))
    expect(error).toBeInstanceOf(Error)
    expect(statusOf(error)).toBeUndefined()
    expect((error as NodeJS.ErrnoException).code).toBe('ECONNRESET')
    await expect(listShards(client, stream)).resolves.toBeDefined()
  })

  it('hang: the client times out, and the proxy still serves later calls', async () => {
    const stream = await kinesis.createStream(1)
    const proxy = await startProxy()
    const client = proxy.client({ requestTimeoutMs: 200 })
    proxy.inject({ kind: 'hang', times: 1 })

    const error = await failure(listShards(client, stream))
    expect(error?.name).toBe('TimeoutError')
    expect((error as NodeJS.ErrnoException).code).toBe('ETIMEDOUT')
    await expect(listShards(client, stream)).resolves.toBeDefined()
    expect(proxy.stats().faults.hang).toBe(1)
  })

  it('hang: close() drops the hung connection', async () => {
    const stream = await kinesis.createStream(1)
    const proxy = await startLimitsProxy({ target: kinesis.endpoint })
    const client = proxy.client({ requestTimeoutMs: 60_000 })
    proxy.inject({ kind: 'hang' })

    const pending = failure(listShards(client, stream))
    while (proxy.stats().faults.hang === 0) await sleep(5)
    await proxy.close()
    expect(await pending).toBeInstanceOf(Error)
  })

  it('throttle with times: 2 faults exactly the next two calls', async () => {
    const stream = await kinesis.createStream(1)
    const proxy = await startProxy()
    const client = proxy.client()
    proxy.inject({ kind: 'throttle', times: 2 })

    expect(await outcomes(client, stream, 4)).toEqual([THROTTLED, THROTTLED, 'ok', 'ok'])
    expect(proxy.stats().faults.throttle).toBe(2)
    // Injected throttles are faults, not limits.
    expect(proxy.stats().throttled).toEqual({})
  })

  it('probability: the same seed faults the same calls', async () => {
    const stream = await kinesis.createStream(1)
    const run = async (seed: number) => {
      const proxy = await startProxy({ seed })
      proxy.inject({ kind: '5xx', probability: 0.5 })
      return outcomes(proxy.client(), stream, 20)
    }
    const first = await run(7)
    expect(await run(7)).toEqual(first)
    expect(first).toContain('ok')
    expect(first).toContain('InternalFailure')
    expect(await run(8)).not.toEqual(first)
  })

  it('faults only the operations a rule names, until it is removed or cleared', async () => {
    const stream = await kinesis.createStream(1)
    const [shard = ''] = await kinesis.openShards(stream)
    const proxy = await startProxy()
    const client = proxy.client()
    const remove = proxy.inject({ kind: '5xx', operations: ['GetRecords'] })

    const iterator = await iteratorFor(client, stream, shard)
    await expect(listShards(client, stream)).resolves.toBeDefined()
    await expect(
      client.send(new DescribeStreamSummaryCommand({ StreamName: stream })),
    ).resolves.toBeDefined()
    expect((await failure(getRecords(client, iterator)))?.name).toBe('InternalFailure')
    expect((await failure(getRecords(client, iterator)))?.name).toBe('InternalFailure')
    remove()
    await expect(getRecords(client, iterator)).resolves.toBeDefined()

    proxy.inject({ kind: 'throttle', operations: ['ListShards'] })
    expect(await outcomes(client, stream, 1)).toEqual([THROTTLED])
    proxy.clearFaults()
    expect(await outcomes(client, stream, 1)).toEqual(['ok'])
  })
})

describe('the limits proxy, latency and stats (against kinesalite)', () => {
  const fastestMs = async (call: () => Promise<unknown>, runs = 3): Promise<number> => {
    let fastest = Number.POSITIVE_INFINITY
    for (let i = 0; i < runs; i++) {
      const start = performance.now()
      await call()
      fastest = Math.min(fastest, performance.now() - start)
    }
    return fastest
  }

  it('adds latencyMs to each call', async () => {
    const stream = await kinesis.createStream(1)
    const latencyMs = 100
    const proxy = await startProxy({ latencyMs: () => latencyMs })
    const client = proxy.client()
    const call = () => listShards(client, stream)

    const slowMs = await fastestMs(call)
    proxy.setLatency(0)
    await call() // warm: the connection is open either way
    const baselineMs = await fastestMs(call)
    expect(slowMs).toBeGreaterThanOrEqual(latencyMs)
    // Without it, the fastest call is well under the latency (a loose bound: CI machines are busy).
    expect(baselineMs).toBeLessThan(latencyMs)

    proxy.setLatency(latencyMs)
    expect(await fastestMs(call, 1)).toBeGreaterThanOrEqual(latencyMs - 1)
  })

  it('counts calls by operation, limit throttles by operation and faults by kind', async () => {
    const stream = await kinesis.createStream(1)
    const [shard = ''] = await kinesis.openShards(stream)
    const proxy = await startProxy({ getRecordsPerSecond: 2 })
    const client = proxy.client({ requestTimeoutMs: 200 })

    const iterator = await iteratorFor(client, stream, shard)
    for (let i = 0; i < 3; i++) await failure(getRecords(client, iterator))
    proxy.inject({ kind: 'throttle', times: 1, operations: ['ListShards'] })
    proxy.inject({ kind: '5xx', times: 1, operations: ['ListShards'] })
    proxy.inject({ kind: 'reset', times: 1, operations: ['ListShards'] })
    proxy.inject({ kind: 'hang', times: 1, operations: ['ListShards'] })
    await outcomes(client, stream, 5)

    expect(proxy.stats()).toEqual({
      calls: { GetShardIterator: 1, GetRecords: 3, ListShards: 5 },
      throttled: { GetRecords: 1 },
      faults: { throttle: 1, '5xx': 1, hang: 1, reset: 1 },
    })
    proxy.resetStats()
    expect(proxy.stats()).toEqual({
      calls: {},
      throttled: {},
      faults: { throttle: 0, '5xx': 0, hang: 0, reset: 0 },
    })
  })
})
