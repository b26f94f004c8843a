import { describe, expect, it } from 'vitest'
import { createPublisher, type Invalidation } from '../../../src/index.js'
import { container, Source } from '../../support/containers.js'
import { countCommands, newReader, useKinesis } from '../../support/kinesis.js'

const kinesis = useKinesis()

const keysOf = (invalidations: Invalidation[]): string[] =>
  invalidations.flatMap((i) => i.keys).sort()

describe('stream positions (kinesalite)', () => {
  it.each([1, 4])(
    'an invalidation written while a container is idle is applied, after several empty polls (%i shards)',
    async (shards) => {
      const stream = await kinesis.createStream(shards)
      const source = new Source()
      const keys = Array.from({ length: 16 }, (_, i) => `users:${i}`)
      for (const key of keys) source.values.set(key, 'v1')
      const reader = container(source, stream, kinesis.client())
      for (const key of keys) await reader.invoke({ op: 'get', key })

      // Several requests whose polls find nothing: a-h/scache lost its position on such shards.
      for (let i = 0; i < 5; i++) {
        await reader.invoke({ op: 'get', key: 'users:0' })
        expect(reader.lastLog()).toMatchObject({ polled: true, records: 0, hits: 1 })
      }

      // While the container receives no requests, a writer changes every key.
      const publisher = createPublisher({ streamName: stream, client: kinesis.client() })
      for (const key of keys) source.values.set(key, 'v2')
      await publisher.invalidate(keys)

      for (const key of keys) expect(await reader.invoke({ op: 'get', key })).toBe('v2')
      expect(reader.logs.reduce((sum, line) => sum + line.evicted, 0)).toBe(keys.length)
    },
  )

  it('re-acquires expired iterators right after the last record read, losing nothing', async () => {
    const stream = await kinesis.createStream(2)
    const client = kinesis.client()
    const calls = countCommands(client)
    let clock = Date.now()
    const { poll, applied } = newReader(stream, client, { now: () => clock })
    const publisher = createPublisher({ streamName: stream, client: kinesis.client() })

    await publisher.invalidate(['a:1', 'a:2', 'a:3', 'a:4'])
    expect((await poll()).ok).toBe(true)
    expect(keysOf(applied)).toEqual(['a:1', 'a:2', 'a:3', 'a:4'])

    // The container sleeps past the 5-minute iterator lifetime; meanwhile more is written.
    await publisher.invalidate(['b:1', 'b:2', 'b:3', 'b:4'])
    clock += 6 * 60_000
    calls.clear()
    applied.length = 0
    const result = await poll()
    expect(result.ok).toBe(true)
    expect(keysOf(applied)).toEqual(['b:1', 'b:2', 'b:3', 'b:4'])
    // One new iterator per shard (AFTER_SEQUENCE_NUMBER, or AT_TIMESTAMP for a shard that had no
    // record yet), after one listing that checks the stream is still the same one; none of the
    // records read before came back.
    expect(calls.get('GetShardIterator')).toBe(2)
    expect(calls.get('ListShards')).toBe(1)
  })

  it('a warm request makes one GetRecords per shard, and no ListShards or GetShardIterator', async () => {
    const stream = await kinesis.createStream(4)
    const client = kinesis.client()
    const calls = countCommands(client)
    const source = new Source()
    source.values.set('users:1', 'Ada')
    const reader = container(source, stream, client)
    await reader.invoke({ op: 'get', key: 'users:1' }) // cold: nothing cached, poll skipped
    expect(calls.size).toBe(0)
    await reader.invoke({ op: 'get', key: 'users:1' }) // first poll: lists shards, takes iterators
    expect(calls.get('ListShards')).toBe(1)
    expect(calls.get('GetShardIterator')).toBe(4)

    await createPublisher({ streamName: stream, client: kinesis.client() }).invalidate([
      'orders:1',
      'orders:2',
    ])
    for (let request = 0; request < 5; request++) {
      calls.clear()
      await reader.invoke({ op: 'get', key: 'users:1' })
      expect(Object.fromEntries(calls)).toEqual({ GetRecords: 4 })
      expect(reader.lastLog()).toMatchObject({ shardsPolled: 4, streamCalls: 4, hits: 1 })
    }
  })

  it('reads no further than the interval allows: polls at most once per pollIntervalMs', async () => {
    const stream = await kinesis.createStream(1)
    const client = kinesis.client()
    const calls = countCommands(client)
    const source = new Source()
    source.values.set('users:1', 'Ada')
    const reader = container(source, stream, client, {
      pollIntervalMs: 60_000,
      maxStalenessMs: 120_000,
    })
    await reader.invoke({ op: 'get', key: 'users:1' })
    await reader.invoke({ op: 'get', key: 'users:1' }) // first poll is due at once
    const afterFirstPoll = calls.get('GetRecords')
    for (let i = 0; i < 10; i++) await reader.invoke({ op: 'get', key: 'users:1' })
    expect(afterFirstPoll).toBe(1)
    expect(calls.get('GetRecords')).toBe(1)
    expect(reader.lastLog()).toMatchObject({ polled: false, hits: 1 })
  })
})
