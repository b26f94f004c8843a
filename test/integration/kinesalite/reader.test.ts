import { setTimeout as sleep } from 'node:timers/promises'
import { describe, expect, it } from 'vitest'
import {
  createPublisher,
  type Invalidation,
  type ReadRecord,
  StreamReader,
} from '../../../src/index.js'
import { countCommands, newReader, useKinesis } from '../../support/kinesis.js'

const kinesis = useKinesis()

const keys = (applied: Invalidation[]) => applied.flatMap((i) => i.keys).sort()

/** Polls until `done`, at most 5 times; returns every poll's result. */
const pollUntil = async <T>(poll: () => Promise<T>, done: () => boolean): Promise<T[]> => {
  const results: T[] = []
  while (results.length < 5) {
    results.push(await poll())
    if (done()) break
  }
  return results
}

describe('StreamReader onRecord (kinesalite)', () => {
  it('shows every record: where it is, when it arrived, and what it decoded to', async () => {
    const stream = await kinesis.createStream(1)
    const reader = new StreamReader({
      stream,
      client: kinesis.client(),
      clockSkewMs: 5_000,
      maxPagesPerShard: 5,
    })
    const published = await createPublisher({
      streamName: stream,
      client: kinesis.client(),
    }).invalidate('users:1')
    await kinesis.putRaw(stream, 'not json')
    const seen: ReadRecord[] = []
    await reader.poll({ apply: () => {}, onRecord: (record) => seen.push(record) })

    expect(seen.map((record) => record.decoded)).toMatchObject([
      { ok: true, invalidation: { keys: ['users:1'] } },
      { ok: false, reason: 'not-json' },
    ])
    expect(seen[0]).toMatchObject({
      shardId: published.acknowledged[0]?.shardId,
      sequenceNumber: published.acknowledged[0]?.sequenceNumber,
    })
    expect(seen[0]?.arrivedAt).toBeGreaterThan(Date.now() - 60_000)
    expect(seen[0]?.json()).toMatchObject({ v: 1, keys: ['users:1'] })
    expect(new TextDecoder().decode(seen[1]?.data)).toBe('not json')
  })
})

describe('StreamReader paging (kinesalite)', () => {
  it('pages a shard until caught up; past the page cap it restarts at now', async () => {
    const stream = await kinesis.createStream(1)
    const client = kinesis.client()
    const calls = countCommands(client)
    const publisher = createPublisher({
      streamName: stream,
      client: kinesis.client(),
      maxKeysPerRecord: 1,
    })
    const { reader, poll } = newReader(stream, client, {
      recordsPerPage: 2,
      maxPagesPerShard: 2,
    })
    await poll()

    await publisher.invalidate(['k:1', 'k:2', 'k:3', 'k:4', 'k:5', 'k:6', 'k:7'])
    calls.clear()
    const first = await poll()
    expect(first).toMatchObject({ ok: true, records: 4, restarted: 'behind' })
    expect(calls.get('GetRecords')).toBe(2)
    expect(reader.positions()).toEqual([]) // every position forgotten: the next poll starts at now

    // Within the cap, a backlog is read in full, page by page.
    const within = newReader(stream, client, { recordsPerPage: 2, maxPagesPerShard: 5 })
    await within.poll()
    within.applied.length = 0
    await publisher.invalidate(['m:1', 'm:2', 'm:3'])
    const second = await within.poll()
    expect(second.restarted).toBeUndefined()
    expect(keys(within.applied)).toEqual(['m:1', 'm:2', 'm:3'])
    // Caught up after a short page: the next poll is a single call.
    calls.clear()
    expect(await within.poll()).toMatchObject({ records: 0 })
    expect(Object.fromEntries(calls)).toEqual({ GetRecords: 1 })
  })

  it('starts a new reader at startAt, in the past; a restart goes to now, not back there', async () => {
    const stream = await kinesis.createStream(1)
    const client = kinesis.client()
    const publisher = createPublisher({ streamName: stream, client, maxKeysPerRecord: 1 })
    await publisher.invalidate(['k:1', 'k:2', 'k:3'])
    const from = (startAt: number, maxPagesPerShard: number) =>
      newReader(stream, client, { startAt, clockSkewMs: 0, recordsPerPage: 1, maxPagesPerShard })

    const past = from(Date.now() - 60_000, 5)
    expect(await past.poll()).toMatchObject({ ok: true, records: 3 })
    expect(keys(past.applied)).toEqual(['k:1', 'k:2', 'k:3'])
    // Records written before a reader's startAt are not its business.
    const now = from(Date.now() + 1, 5)
    expect(await now.poll()).toMatchObject({ ok: true, records: 0 })

    // Past its page cap, a reader restarts at now: the next poll reads nothing old, where going
    // back to startAt would meet the same backlog and restart again, poll after poll.
    const capped = from(Date.now() - 60_000, 2)
    expect(await capped.poll()).toMatchObject({ records: 2, restarted: 'behind' })
    const after = await capped.poll()
    expect(after.restarted).toBeUndefined()
    expect(after.records).toBe(0)
  })
})

describe('StreamReader resharding (kinesalite SplitShard and MergeShards mid-run)', () => {
  it('reads a split parent to its end, then its children, in the same poll', async () => {
    const stream = await kinesis.createStream(1)
    const client = kinesis.client()
    const calls = countCommands(client)
    const publisher = createPublisher({ streamName: stream, client: kinesis.client() })
    const { poll, applied } = newReader(stream, client)
    await poll()

    await publisher.invalidate('before:split')
    await kinesis.split(stream)
    const children = await kinesis.openShards(stream)
    expect(children).toHaveLength(2)
    const after = Array.from({ length: 20 }, (_, i) => `after:${i}`)
    for (const key of after) await publisher.invalidate(key) // random partition keys: both children

    // The page with the parent's last records ends the shard (no NextShardIterator), as Kinesis
    // does: one poll reads the parent and both children.
    const polls = await pollUntil(poll, () => keys(applied).length === after.length + 1)
    expect(polls.every((result) => result.ok)).toBe(true)
    expect(polls).toHaveLength(1)
    expect(keys(applied)).toEqual(['before:split', ...after].sort())
    expect(applied[0]?.keys).toEqual(['before:split']) // the parent before its children
    // kinesalite returns no ChildShards: the reader listed the shards again, once.
    expect(polls.reduce((sum, result) => sum + result.calls.listShards, 0)).toBe(1)

    calls.clear()
    await publisher.invalidate('later')
    const warm = await poll()
    expect(warm.shardsPolled).toBe(2)
    expect(Object.fromEntries(calls)).toEqual({ GetRecords: 2 })
    expect(keys(applied)).toContain('later')
  })

  it('a poll started after a split reads what the children acknowledged before it, from an old iterator', async () => {
    const stream = await kinesis.createStream(1)
    const publisher = createPublisher({ streamName: stream, client: kinesis.client() })
    const { poll, applied } = newReader(stream, kinesis.client())
    await poll()
    await poll() // the parent's iterator now comes from an empty read
    // kinesalite stamps iterators with whole seconds: split in a later second than the iterator's,
    // the case in which it used to answer an empty read at the parent's end as if it were open.
    const second = Math.floor(Date.now() / 1_000)
    while (Math.floor(Date.now() / 1_000) === second) await sleep(20)
    await kinesis.split(stream)
    const after = Array.from({ length: 6 }, (_, i) => `after:${i}`)
    for (const key of after) await publisher.invalidate(key)

    const result = await poll()
    expect(result.ok).toBe(true)
    // A poll that reports success has read everything acknowledged before it began.
    expect(keys(applied)).toEqual(after)
    expect(result.shardsPolled).toBe(3)
  })

  it('follows a merge: both parents to their end, then the child', async () => {
    const stream = await kinesis.createStream(2)
    const client = kinesis.client()
    const publisher = createPublisher({ streamName: stream, client: kinesis.client() })
    const { poll, applied } = newReader(stream, client)
    await poll()

    const before = Array.from({ length: 10 }, (_, i) => `before:${i}`)
    for (const key of before) await publisher.invalidate(key)
    await kinesis.merge(stream)
    await publisher.invalidate(['after:1', 'after:2'])

    const polls = await pollUntil(poll, () => keys(applied).length === before.length + 2)
    expect(polls).toHaveLength(1)
    expect(keys(applied)).toEqual([...before, 'after:1', 'after:2'].sort())
    expect(applied.at(-1)?.keys).toEqual(['after:1', 'after:2']) // both parents before the child
    const warm = await poll()
    expect(warm.shardsPolled).toBe(1)
  })
})
