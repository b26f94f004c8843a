import { describe, expect, it } from 'vitest'
import { createPublisher } from '../../../src/index.js'
import { container, Source } from '../../support/containers.js'
import { readInvalidations, useKinesis } from '../../support/kinesis.js'

const kinesis = useKinesis()

const readAll = (stream: string, since: number) => readInvalidations(kinesis, stream, since)

describe('invalidation records on the stream (kinesalite)', () => {
  it('reads a 3,000-key publish back complete from a 4-shard stream', async () => {
    const stream = await kinesis.createStream(4)
    const since = Date.now() - 1_000
    const keys = Array.from({ length: 3_000 }, (_, i) => `users:${i}`)
    const published = await createPublisher({
      streamName: stream,
      client: kinesis.client(),
    }).invalidate(keys)
    expect(published).toMatchObject({ records: 3, requests: 1, retriedEntries: 0 })

    const { result, applied } = await readAll(stream, since)
    expect(result).toMatchObject({ ok: true, records: 3, skippedRecords: 0, shardsPolled: 4 })
    expect(applied.flatMap((i) => i.keys).sort()).toEqual([...keys].sort())
  })

  it('skips and counts malformed records between valid ones, and applies every valid one', async () => {
    const stream = await kinesis.createStream(4)
    const since = Date.now() - 1_000
    const publisher = createPublisher({ streamName: stream, client: kinesis.client() })
    const garbage: (string | Uint8Array)[] = [
      'not json',
      '[1,2,3]',
      '{"v":1}',
      '{"keys":["users:1"]}',
      '{"v":"1","keys":["users:1"]}',
      '{"v":1,"keys":"users:1"}',
      new Uint8Array([0xff, 0xfe, 0x00, 0x80]),
      '{"v":1,"__proto__":{"keys":["users:1"]}}',
    ]
    for (let i = 0; i < garbage.length; i++) {
      await publisher.invalidate([`valid:${i}`])
      await kinesis.putRaw(stream, garbage[i] as string | Uint8Array)
    }
    await publisher.invalidatePrefix('orders:')
    await publisher.invalidateAll()

    const { result, applied, skipped } = await readAll(stream, since)
    expect(result.ok).toBe(true)
    expect(result.records).toBe(garbage.length * 2 + 2)
    expect(result.skippedRecords).toBe(garbage.length)
    expect(skipped.map((s) => s.reason).sort()).toEqual(
      [
        'bad-field',
        'bad-version',
        'bad-version',
        'empty',
        'empty',
        'not-an-object',
        'not-json',
        'not-utf8',
      ].sort(),
    )
    expect(applied.flatMap((i) => i.keys).sort()).toEqual(
      garbage.map((_, i) => `valid:${i}`).sort(),
    )
    expect(applied.flatMap((i) => i.prefixes)).toEqual(['orders:'])
    expect(applied.filter((i) => i.all)).toHaveLength(1)
    expect(({} as Record<string, unknown>).keys).toBeUndefined()
  })

  it('a container keeps serving and evicting around bad records, and logs where they are', async () => {
    const stream = await kinesis.createStream(1)
    const source = new Source()
    source.values.set('users:1', 'Ada')
    source.values.set('users:2', 'Alan')
    const reader = container(source, stream, kinesis.client())
    await reader.invoke({ op: 'get', key: 'users:1' })
    await reader.invoke({ op: 'get', key: 'users:2' })

    await kinesis.putRaw(stream, '{"v":1,"keys":[')
    await createPublisher({ streamName: stream, client: kinesis.client() }).invalidate('users:1')
    await kinesis.putRaw(stream, 'x'.repeat(10_000))

    source.values.set('users:1', 'Grace')
    expect(await reader.invoke({ op: 'get', key: 'users:1' })).toBe('Grace')
    const line = reader.lastLog()
    expect(line).toMatchObject({ records: 3, skippedRecords: 2, evicted: 1, misses: 1 })
    expect(line.skipped?.map((s) => s.reason)).toEqual(['not-json', 'not-json'])
    expect(
      line.skipped?.every((s) => s.shardId.startsWith('shardId-') && s.sequenceNumber.length > 0),
    ).toBe(true)
    expect(JSON.stringify(line)).not.toContain('xxxx')
    expect(await reader.invoke({ op: 'get', key: 'users:2' })).toBe('Alan')
    expect(reader.lastLog()).toMatchObject({ hits: 1, records: 0, skippedRecords: 0 })
  })
})
