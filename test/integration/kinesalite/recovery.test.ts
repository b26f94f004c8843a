import {
  type ChildShard,
  DecreaseStreamRetentionPeriodCommand,
  DeleteStreamCommand,
  type GetRecordsCommandInput,
  type GetRecordsCommandOutput,
  type GetShardIteratorCommandInput,
  type GetShardIteratorCommandOutput,
  IncreaseStreamRetentionPeriodCommand,
  type KinesisClient,
  ListShardsCommand,
  type ListShardsCommandOutput,
} from '@aws-sdk/client-kinesis'
import { afterEach, describe, expect, it, vi } from 'vitest'
import {
  createPublisher,
  createScache,
  type Invalidation,
  type InvocationLog,
} from '../../../src/index.js'
import { countCommands, failCommand, newReader, useKinesis } from '../../support/kinesis.js'

const kinesis = useKinesis()
afterEach(() => {
  vi.useRealTimers()
})

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const HOUR = 3_600_000

/** A container's engine on `stream`, its log lines, and the SDK commands its client sent. */
const newContainer = (stream: string, client: KinesisClient = kinesis.client()) => {
  const lines: InvocationLog[] = []
  const calls = countCommands(client)
  const instance = createScache({
    stream: { name: stream, client },
    ttl: { minMs: 7 * 24 * HOUR, maxMs: 7 * 24 * HOUR },
    pollIntervalMs: 0,
    log: (line) => lines.push(line),
  })
  const request = async (
    read: (cache: ReturnType<typeof instance.cache.get>) => void = () => {},
  ) => {
    const invocation = await instance.begin()
    read(invocation.cache.get('users:1'))
    return invocation.end()
  }
  return { instance, lines, calls, request }
}

/** Deletes the stream and creates it again under the same name, with fresh sequence numbers. */
const recreate = async (stream: string, shards = 1) => {
  await kinesis.client({ maxAttempts: 3 }).send(new DeleteStreamCommand({ StreamName: stream }))
  // kinesalite derives sequence numbers from the stream's creation time, in whole seconds.
  await sleep(1_100)
  return { recreated: () => kinesis.createStream(shards, stream) }
}

describe('idle containers and retention (kinesalite)', () => {
  it('a gap longer than the retention clears the cache and restarts at now; a shorter one keeps it', async () => {
    vi.useFakeTimers({ toFake: ['Date'], shouldAdvanceTime: true })
    const stream = await kinesis.createStream(1)
    const { instance, lines, calls, request } = newContainer(stream)
    instance.cache.set('users:1', 'Ada')
    await request()
    expect(lines.at(-1)).toMatchObject({ polled: true, entries: 1 })

    // Frozen for 25 hours, past the default 24-hour retention: records may be gone unread.
    vi.setSystemTime(Date.now() + 25 * HOUR)
    calls.clear()
    const line = await request((value) => expect(value).toBeUndefined())
    expect(line).toMatchObject({ cleared: 'retention', entries: 0, bypassed: 0 })
    expect(Object.fromEntries(calls)).toEqual({ DescribeStreamSummary: 1 })
  })

  it('a stream kept 48 hours keeps the cache over a 25-hour gap; its retention is reused for an hour, then read again', async () => {
    vi.useFakeTimers({ toFake: ['Date'], shouldAdvanceTime: true })
    const stream = await kinesis.createStream(1)
    const admin = kinesis.client({ maxAttempts: 3 })
    await admin.send(
      new IncreaseStreamRetentionPeriodCommand({ StreamName: stream, RetentionPeriodHours: 48 }),
    )
    const client = kinesis.client()
    let failures = 0
    failCommand(client, 'GetRecords', 'InternalFailure', () => failures-- > 0)
    const { instance, lines, calls, request } = newContainer(stream, client)
    instance.cache.set('users:1', 'Ada')
    instance.cache.set('users:2', 'Alan')
    await request()

    const publisher = createPublisher({ streamName: stream, client: kinesis.client() })
    await publisher.invalidate('users:2')
    vi.setSystemTime(Date.now() + 25 * HOUR)
    calls.clear()
    failures = 3 // a transient failure is retried twice within the poll
    const failed = await request()
    expect(failed.streamError).toMatch(/^InternalFailure/)
    expect(calls.get('DescribeStreamSummary')).toBe(1)

    await sleep((failed.backoffMs ?? 0) + 50) // the faked clock advances in 20 ms steps
    calls.clear()
    const line = await request((value) => expect(value).toBe('Ada'))
    expect(line).toMatchObject({ hits: 1, entries: 1, evicted: 1 })
    expect(line.cleared).toBeUndefined()
    expect(calls.get('DescribeStreamSummary')).toBeUndefined() // reused within the hour

    // The retention is cut to 24 hours; the next long gap reads it again, and clears.
    await admin.send(
      new DecreaseStreamRetentionPeriodCommand({ StreamName: stream, RetentionPeriodHours: 24 }),
    )
    vi.setSystemTime(Date.now() + 25 * HOUR)
    calls.clear()
    const cut = await request((value) => expect(value).toBeUndefined())
    expect(cut).toMatchObject({ cleared: 'retention', entries: 0 })
    expect(calls.get('DescribeStreamSummary')).toBe(1)
    expect(lines.filter((l) => l.cleared !== undefined)).toHaveLength(1)
  })
})

describe('a deleted and recreated stream, and lost positions (kinesalite)', () => {
  it('an idle container notices the stream was recreated before re-anchoring, and clears', async () => {
    vi.useFakeTimers({ toFake: ['Date'], shouldAdvanceTime: true })
    const stream = await kinesis.createStream(1)
    const publisher = createPublisher({ streamName: stream, client: kinesis.client() })
    const { instance, request } = newContainer(stream)
    instance.cache.set('users:1', 'Ada')
    await publisher.invalidate('orders:1') // the shard now has a sequence number to resume from
    await request()

    // While the container is frozen past its iterators' lifetime, the stream is deleted (what was
    // written to it since is gone with it) and created again under the same name.
    const { recreated } = await recreate(stream)
    await recreated()
    vi.setSystemTime(Date.now() + 6 * 60_000)
    const line = await request((value) => expect(value).toBeUndefined())
    expect(line).toMatchObject({ cleared: 'stream-recreated', entries: 0 })

    // Reading resumes on the new stream.
    instance.cache.set('users:1', 'Grace')
    await request()
    await createPublisher({ streamName: stream, client: kinesis.client() }).invalidate('users:1')
    const after = await request((value) => expect(value).toBeUndefined())
    expect(after).toMatchObject({ evicted: 1 })
    expect(after.streamError).toBeUndefined()
  })

  it('a warm container bypasses the cache while the stream is gone, and clears when it is back', async () => {
    const stream = await kinesis.createStream(1)
    const { instance, request } = newContainer(stream)
    instance.cache.set('users:1', 'Ada')
    await request()

    const { recreated } = await recreate(stream)
    const gone = await request((value) => expect(value).toBeUndefined())
    expect(gone.streamError).toMatch(/^ResourceNotFoundException/)
    expect(gone.bypassed).toBe(1)

    await recreated()
    await sleep((gone.backoffMs ?? 0) + 5)
    const back = await request((value) => expect(value).toBeUndefined())
    expect(back).toMatchObject({ cleared: 'stream-recreated', entries: 0, bypassed: 0 })
  })

  it('a reader whose iterators are still live checks the stream after a minute without a poll', async () => {
    const stream = await kinesis.createStream(1)
    let clock = Date.now()
    const { poll } = newReader(stream, kinesis.client(), { now: () => clock })
    expect((await poll()).ok).toBe(true)
    // Acknowledged, then lost with the stream; kinesalite would accept the old iterator.
    await createPublisher({ streamName: stream, client: kinesis.client() }).invalidate('users:1')
    const { recreated } = await recreate(stream)
    await recreated()
    clock += 61_000
    expect(await poll()).toMatchObject({ restarted: 'stream-recreated' })
  })

  it('an iterator Kinesis rejects is replaced after a listing, on the next poll', async () => {
    const stream = await kinesis.createStream(1)
    const client = kinesis.client()
    let rejections = 0
    failCommand(client, 'GetRecords', 'InvalidArgumentException', () => rejections-- > 0)
    const calls = countCommands(client)
    const { poll, applied } = newReader(stream, client)
    expect((await poll()).ok).toBe(true)
    rejections = 1
    expect((await poll()).ok).toBe(false)
    await createPublisher({ streamName: stream, client: kinesis.client() }).invalidate('users:1')
    calls.clear()
    expect((await poll()).ok).toBe(true)
    expect(Object.fromEntries(calls)).toEqual({ ListShards: 1, GetShardIterator: 1, GetRecords: 1 })
    expect(applied.flatMap((i) => i.keys)).toEqual(['users:1'])
  })

  it('a clock that steps back does not suspend polling or the staleness bound', async () => {
    vi.useFakeTimers({ toFake: ['Date'], shouldAdvanceTime: true })
    const stream = await kinesis.createStream(1)
    const { instance, request } = newContainer(stream)
    instance.cache.set('users:1', 'Ada')
    await request()
    await createPublisher({ streamName: stream, client: kinesis.client() }).invalidate('users:1')
    vi.setSystemTime(Date.now() - 30_000)
    // The poll runs at once; kinesalite, sharing the stepped clock, rejects the iterator it issued
    // "later", so the read is bypassed rather than served.
    const line = await request((value) => expect(value).toBeUndefined())
    expect(line).toMatchObject({ polled: true, hits: 0 })
  })

  it('a sequence number Kinesis rejects (trimmed, or from another stream) clears and restarts at now', async () => {
    const stream = await kinesis.createStream(1)
    const client = kinesis.client()
    let rejecting = false
    failCommand(client, 'GetShardIterator', 'InvalidArgumentException', () => rejecting)
    const { poll, applied } = newReader(stream, client)
    const publisher = createPublisher({ streamName: stream, client: kinesis.client() })
    await publisher.invalidate('users:1')
    expect((await poll()).ok).toBe(true)

    // The iterator expired, and Kinesis refuses to resume after the last sequence number read.
    let expired = 1
    failCommand(client, 'GetRecords', 'ExpiredIteratorException', () => expired-- > 0)
    rejecting = true
    const lost = await poll()
    expect(lost).toMatchObject({ restarted: 'position-lost', ok: true })

    rejecting = false
    await publisher.invalidate('users:2')
    expect((await poll()).ok).toBe(true)
    expect(applied.flatMap((i) => i.keys)).toContain('users:2')
  })

  it('a shard still being read that leaves the listing clears and restarts at now', async () => {
    const stream = await kinesis.createStream(2)
    const client = kinesis.client()
    let hide: string | undefined
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const result = await next(args)
        if (context.commandName !== 'ListShardsCommand' || hide === undefined) return result
        const output = result.output as ListShardsCommandOutput
        const Shards = (output.Shards ?? []).filter((shard) => shard.ShardId !== hide)
        return { ...result, output: { ...output, Shards } }
      },
      { step: 'initialize', name: 'scacheTestHideShard' },
    )
    let clock = Date.now()
    const { poll } = newReader(stream, client, { now: () => clock })
    expect((await poll()).ok).toBe(true)
    ;[hide] = await kinesis.openShards(stream)
    clock += 6 * 60_000
    expect(await poll()).toMatchObject({ restarted: 'position-lost' })
  })
})

/**
 * Makes GetRecords answer as Kinesis does when a shard closes: `ChildShards` beside the null
 * `NextShardIterator`, which kinesalite leaves out. The children are the stream's real ones.
 */
const withChildShards = (client: KinesisClient, stream: string): void => {
  const admin = kinesis.client({ maxAttempts: 3 })
  const shardOf = new Map<string, string>()
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const result = await next(args)
      if (context.commandName === 'GetShardIteratorCommand') {
        const input = args.input as GetShardIteratorCommandInput
        const output = result.output as GetShardIteratorCommandOutput
        if (output.ShardIterator && input.ShardId) shardOf.set(output.ShardIterator, input.ShardId)
      }
      if (context.commandName !== 'GetRecordsCommand') return result
      const input = args.input as GetRecordsCommandInput
      const output = result.output as GetRecordsCommandOutput
      const shard = shardOf.get(input.ShardIterator ?? '')
      if (shard === undefined) return result
      if (output.NextShardIterator) {
        shardOf.set(output.NextShardIterator, shard)
        return result
      }
      const { Shards = [] } = await admin.send(new ListShardsCommand({ StreamName: stream }))
      const ChildShards: ChildShard[] = Shards.filter(
        (child) => child.ParentShardId === shard || child.AdjacentParentShardId === shard,
      ).map((child) => ({
        ShardId: child.ShardId,
        ParentShards: [child.ParentShardId, child.AdjacentParentShardId].filter(
          (id): id is string => id !== undefined,
        ),
        HashKeyRange: child.HashKeyRange,
      }))
      return { ...result, output: { ...output, ChildShards } }
    },
    { step: 'initialize', name: 'scacheTestChildShards' },
  )
}

describe('resharding with ChildShards (kinesalite, ChildShards injected)', () => {
  const setup = async (shards: number) => {
    const stream = await kinesis.createStream(shards)
    const client = kinesis.client()
    withChildShards(client, stream)
    const calls = countCommands(client)
    const { reader, applied, poll } = newReader(stream, client)
    await poll()
    const publisher = createPublisher({ streamName: stream, client: kinesis.client() })
    return { stream, calls, reader, applied, poll, publisher }
  }
  const keys = (applied: Invalidation[]) => applied.flatMap((i) => i.keys)

  it('follows a split through ChildShards, without listing the shards again', async () => {
    const { stream, calls, applied, poll, publisher } = await setup(1)
    await publisher.invalidate('before:split')
    await kinesis.split(stream)
    const after = Array.from({ length: 20 }, (_, i) => `after:${i}`)
    for (const key of after) await publisher.invalidate(key)

    calls.clear()
    for (let i = 0; i < 3 && keys(applied).length < after.length + 1; i++)
      expect((await poll()).ok).toBe(true)
    expect(keys(applied)[0]).toBe('before:split') // the parent before its children
    expect([...keys(applied)].sort()).toEqual(['before:split', ...after].sort())
    expect(calls.get('ListShards')).toBeUndefined()
  })

  it('follows a merge: the child is read only once both parents reached their end', async () => {
    const { stream, calls, applied, poll, publisher, reader } = await setup(2)
    const before = Array.from({ length: 10 }, (_, i) => `before:${i}`)
    for (const key of before) await publisher.invalidate(key)
    await kinesis.merge(stream)
    await publisher.invalidate(['after:1', 'after:2'])

    calls.clear()
    for (let i = 0; i < 3 && keys(applied).length < before.length + 2; i++)
      expect((await poll()).ok).toBe(true)
    expect(applied.at(-1)?.keys).toEqual(['after:1', 'after:2'])
    expect([...keys(applied)].sort()).toEqual([...before, 'after:1', 'after:2'].sort())
    expect(calls.get('ListShards')).toBeUndefined()
    expect(reader.positions().filter((shard) => !shard.finished)).toHaveLength(1)
  })
})
