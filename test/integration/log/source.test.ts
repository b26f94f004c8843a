import { PutItemCommand } from '@aws-sdk/client-dynamodb'
import { describe, expect, it } from 'vitest'
import { RelayDriver } from '../../../infra/local/relay.js'
import { createRelay, LogSource } from '../../../src/index.js'
import { heartbeatRecord, type LogClient } from '../../../src/log/index.js'
import { container, Source } from '../../support/containers.js'
import { useKinesis } from '../../support/kinesis.js'
import { awsError, faulty, useLog } from '../../support/log.js'

const kinesis = useKinesis()
const log = useLog()

const setUp = async (shards = 1) => {
  const stream = await kinesis.createStream(shards)
  const table = await log.createTable()
  const relay = createRelay({ table, client: log.client(), log: () => {} })
  const driver = new RelayDriver({
    client: kinesis.client({ maxAttempts: 3 }),
    stream,
    handler: relay,
  })
  const heartbeat = async () => {
    await kinesis.putRaw(stream, heartbeatRecord(Date.now()))
    await driver.drain()
  }
  const source = new Source()
  const reader = (options: { client?: LogClient; maxStalenessMs?: number } = {}) =>
    container(source, stream, kinesis.client(), {
      logTable: { name: table, client: (options.client ?? log.client()) as never },
      maxStalenessMs: options.maxStalenessMs ?? 10_000,
    })
  return { stream, table, driver, heartbeat, source, reader }
}

describe('containers reading the log table (kinesalite → relay → dynalite)', () => {
  it("a write through one container evicts the key in another, through the relay's log", async () => {
    const { driver, heartbeat, source, reader } = await setUp()
    await heartbeat()
    source.values.set('users:42', 'Ada')
    const a = reader()
    const b = reader()
    expect(await b.invoke({ op: 'get', key: 'users:42' })).toBe('Ada')
    expect(await b.invoke({ op: 'get', key: 'users:42' })).toBe('Ada')
    expect(b.lastLog()).toMatchObject({ hits: 1, bypassed: 0 })
    await a.invoke({ op: 'put', key: 'users:42', value: 'Grace' })
    await driver.drain()
    expect(await b.invoke({ op: 'get', key: 'users:42' })).toBe('Grace')
    expect(b.lastLog()).toMatchObject({ evicted: 1, misses: 1, shardsPolled: 1, streamCalls: 1 })
  })

  it('reads invalidations written after its cold start, not before (anchored at a time)', async () => {
    const { driver, heartbeat, source, reader } = await setUp()
    const writer = reader()
    await writer.invoke({ op: 'put', key: 'old:1', value: 'x' })
    await driver.drain()
    const b = reader()
    source.values.set('k:1', 'v1')
    expect(await b.invoke({ op: 'get', key: 'k:1' })).toBe('v1')
    await writer.invoke({ op: 'put', key: 'k:1', value: 'v2' })
    await heartbeat()
    expect(await b.invoke({ op: 'get', key: 'k:1' })).toBe('v2')
    expect(b.lastLog()).toMatchObject({ evicted: 1 })
  })

  it('an item without a time does not end the anchoring read: entries below it still apply', async () => {
    const { table, driver, heartbeat, source, reader } = await setUp()
    await heartbeat()
    const writer = reader()
    const b = reader()
    source.values.set('k:1', 'v1')
    // b's first request skips its poll (nothing cached) and anchors at now; its next poll reads
    // the newest entries back to that time.
    expect(await b.invoke({ op: 'get', key: 'k:1' })).toBe('v1')
    await writer.invoke({ op: 'put', key: 'k:1', value: 'v2' })
    await driver.drain()
    // Above the invalidation, an item no relay writes: no `at`, nothing else.
    const head = (await log.entries(table)).at(-1)?.seq ?? 0
    await log.client().send(
      new PutItemCommand({
        TableName: table,
        Item: { pk: { S: 'log#0' }, seq: { N: String(head + 1) } },
      }),
    )
    await heartbeat()
    // Read as "older than the anchor", it would end the read above the invalidation.
    expect(await b.invoke({ op: 'get', key: 'k:1' })).toBe('v2')
    expect(b.lastLog()).toMatchObject({ evicted: 1 })
  })

  it('a stuck relay (no entry newer than the bound) makes the poll fail and reads bypass', async () => {
    const { heartbeat, source, reader } = await setUp()
    await heartbeat()
    source.values.set('k:1', 'v')
    const b = reader({ maxStalenessMs: 1_500 })
    await b.invoke({ op: 'get', key: 'k:1' })
    expect(await b.invoke({ op: 'get', key: 'k:1' })).toBe('v')
    expect(b.lastLog()).toMatchObject({ hits: 1, bypassed: 0 })
    // No heartbeat is relayed any more: the log's newest entry ages past the bound.
    await new Promise((resolve) => setTimeout(resolve, 1_700))
    await b.invoke({ op: 'get', key: 'k:1' })
    expect(b.lastLog().streamError).toMatch(/^RelayBehind/)
    expect(b.lastLog()).toMatchObject({ hits: 0, bypassed: 1 })
    // The relay is back: the next poll succeeds, and the cache serves again.
    await heartbeat()
    await new Promise((resolve) => setTimeout(resolve, 800))
    await b.invoke({ op: 'get', key: 'k:1' })
    await b.invoke({ op: 'get', key: 'k:1' })
    expect(b.lastLog()).toMatchObject({ hits: 1, bypassed: 0 })
  })

  it('a table throttled or unreachable fails the poll: reads bypass, nothing is served stale', async () => {
    const { heartbeat, source, reader } = await setUp()
    await heartbeat()
    let fault: Error | undefined
    const client = faulty(log.client(), () => fault)
    source.values.set('k:1', 'v')
    const b = reader({ client })
    await b.invoke({ op: 'get', key: 'k:1' })
    await b.invoke({ op: 'get', key: 'k:1' })
    expect(b.lastLog()).toMatchObject({ hits: 1 })
    for (const error of [
      awsError('ProvisionedThroughputExceededException'),
      awsError('ECONNREFUSED'),
    ]) {
      fault = error
      await new Promise((resolve) => setTimeout(resolve, 50))
      b.instance.reset()
      await b.invoke({ op: 'get', key: 'k:1' })
      await b.invoke({ op: 'get', key: 'k:1' })
      expect(b.lastLog()).toMatchObject({ hits: 0, bypassed: 1 })
      expect(b.lastLog().streamError).toContain(error.name)
    }
  })

  it('entries expired under a frozen container: the gap clears its cache', async () => {
    const { table, driver, heartbeat, source, reader } = await setUp()
    await heartbeat()
    source.values.set('k:1', 'v1')
    const b = reader()
    await b.invoke({ op: 'get', key: 'k:1' })
    await b.invoke({ op: 'get', key: 'k:1' })
    const writer = reader()
    await writer.invoke({ op: 'put', key: 'k:1', value: 'v2' })
    await driver.drain()
    await heartbeat()
    // The entry with the invalidation expires (TTL) before this container reads it.
    const entries = await log.entries(table)
    await log.expire(
      table,
      0,
      entries.slice(1, -1).map((entry) => entry.seq),
    )
    expect(await b.invoke({ op: 'get', key: 'k:1' })).toBe('v2')
    expect(b.lastLog()).toMatchObject({ cleared: 'retention' })
  })

  it('a reshard under the relay keeps each shard in order: parents before children', async () => {
    const { stream, table, driver, heartbeat, source, reader } = await setUp(1)
    await heartbeat()
    source.values.set('k:1', 'v0')
    const writer = reader()
    const b = reader()
    await b.invoke({ op: 'get', key: 'k:1' })
    for (let i = 1; i <= 3; i++) await writer.invoke({ op: 'put', key: 'k:1', value: `v${i}` })
    await kinesis.split(stream)
    for (let i = 4; i <= 6; i++) await writer.invoke({ op: 'put', key: `k:${i}`, value: `v${i}` })
    await driver.drain()
    await heartbeat()
    expect(await b.invoke({ op: 'get', key: 'k:1' })).toBe('v3')
    expect(b.lastLog()).toMatchObject({ evicted: 1 })
    const children = await kinesis.openShards(stream)
    expect(children).toHaveLength(2)
    // The parent's entries all come before any child's, and each shard's keys in write order.
    const entries = (await log.entries(table)).filter((entry) => entry.keys.length > 0)
    const shardOf = entries.map((entry) => (children.includes(entry.shard) ? 'child' : 'parent'))
    expect(shardOf).toEqual(
      [...shardOf].sort((x, y) => (x === 'parent' ? -1 : y === 'parent' ? 1 : 0)),
    )
    expect(shardOf).toContain('parent')
    expect(shardOf).toContain('child')
    expect(
      entries
        .flatMap((entry) => entry.keys)
        .slice(-3)
        .sort(),
    ).toEqual(['k:4', 'k:5', 'k:6'])
  })

  it('reports its position per copy, and each poll is one Query', async () => {
    const { table, heartbeat } = await setUp()
    await heartbeat()
    const source = new LogSource({
      table,
      copy: 0,
      client: log.client(),
      clockSkewMs: 5_000,
      maxPages: 5,
      maxBehindMs: 10_000,
    })
    const first = await source.poll({ apply: () => {} })
    expect(first).toMatchObject({ ok: true, calls: { query: 1 } })
    expect(source.positions()).toEqual([{ shardId: 'log#0', sequenceNumber: '1', finished: false }])
    await heartbeat()
    const second = await source.poll({ apply: () => {} })
    expect(second).toMatchObject({ ok: true, records: 1, invalidations: 0, calls: { query: 1 } })
    expect(second.syncedTo).toBeGreaterThan(Date.now() - 10_000)
  })

  it('a container frozen past the retention restarts, even with no gap to see', async () => {
    const { table, heartbeat } = await setUp()
    await heartbeat()
    let clock = Date.now()
    const source = new LogSource({
      table,
      copy: 0,
      client: log.client(),
      clockSkewMs: 5_000,
      maxPages: 5,
      maxBehindMs: 10_000,
      now: () => clock,
    })
    expect((await source.poll({ apply: () => {} })).ok).toBe(true)
    // Thawed a day later: the entries after its position may have expired and been deleted, and
    // TTL deletion leaves no trace to compare seqs against.
    clock += 24 * 3_600_000
    const thawed = await source.poll({ apply: () => {} })
    expect(thawed.restarted).toBe('retention')
    expect(thawed.calls).toEqual({ query: 0 })
  })
})
