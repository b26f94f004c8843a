import { DeleteItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb'
import { describe, expect, it } from 'vitest'
import { RelayDriver } from '../../../infra/local/relay.js'
import {
  createHeartbeat,
  createPublisher,
  createRelay,
  encodeRecord,
  type RelayLogLine,
} from '../../../src/index.js'
import { heartbeatRecord, MAX_ENTRIES_PER_BATCH } from '../../../src/log/index.js'
import { useKinesis } from '../../support/kinesis.js'
import { awsError, faulty, useLog } from '../../support/log.js'

const kinesis = useKinesis()
const log = useLog()

/** A stream, a log table, a relay on them and the driver that plays Lambda's mapping. */
const setUp = async (
  options: {
    shards?: number
    copies?: number
    client?: unknown
    secret?: string
    appendTimeoutMs?: number
    /** An existing log table (a second relay on it, with its own stream). */
    table?: string
    now?: () => number
    retentionMs?: number
  } = {},
) => {
  const stream = await kinesis.createStream(options.shards ?? 1)
  const table = options.table ?? (await log.createTable())
  const lines: RelayLogLine[] = []
  const relay = createRelay({
    table,
    copies: options.copies ?? 1,
    client: (options.client ?? log.client()) as ReturnType<typeof log.client>,
    // Long enough for a busy machine's dynalite: a call in flight at the deadline is abandoned.
    appendTimeoutMs: options.appendTimeoutMs ?? 5_000,
    ...(options.secret === undefined ? {} : { secret: options.secret }),
    ...(options.now === undefined ? {} : { now: options.now }),
    ...(options.retentionMs === undefined ? {} : { retentionMs: options.retentionMs }),
    log: (line) => lines.push(line),
  })
  const driver = new RelayDriver({
    client: kinesis.client({ maxAttempts: 3 }),
    stream,
    handler: relay,
  })
  const publisher = createPublisher({
    streamName: stream,
    client: kinesis.client(),
    ...(options.secret === undefined ? {} : { secret: options.secret }),
  })
  return { stream, table, lines, relay, driver, publisher }
}

const seqs = (entries: readonly { seq: number }[]) => entries.map((entry) => entry.seq)
const keysOf = (entries: readonly { keys: readonly string[] }[]) => entries.flatMap((e) => e.keys)

describe('the relay (kinesalite → dynalite, driven as the event source mapping would)', () => {
  it('appends each batch densely from seq 1, in stream order, to every copy', async () => {
    const { table, driver, publisher } = await setUp({ copies: 2 })
    await publisher.invalidate(['users:1'])
    await driver.drain()
    await publisher.invalidate(['users:2', 'users:3'])
    await publisher.invalidatePrefix('orders:')
    await driver.drain()
    for (const copy of [0, 1]) {
      const entries = await log.entries(table, copy)
      expect(seqs(entries)).toEqual(entries.map((_, i) => i + 1))
      expect(keysOf(entries)).toEqual(['users:1', 'users:2', 'users:3'])
      expect(entries.flatMap((e) => e.prefixes)).toEqual(['orders:'])
      for (const entry of entries) {
        expect(entry.shard).toMatch(/^shardId-/)
        expect(entry.upTo).toBeGreaterThan(Date.now() - 60_000)
        expect(entry.expiresAt).toBeGreaterThan(Date.now() / 1_000 + 23 * 3_600)
      }
    }
  })

  it('two relays appending to one copy at once keep it dense: conflicts re-read the head', async () => {
    const { table, driver, publisher } = await setUp({ shards: 4 })
    const keys = Array.from({ length: 40 }, (_, i) => `k:${i}`)
    // One record per key, spread over the shards: four pollers append concurrently.
    await Promise.all(keys.map((key) => publisher.invalidate([key])))
    await driver.drain()
    const entries = await log.entries(table)
    expect(seqs(entries)).toEqual(entries.map((_, i) => i + 1))
    expect(new Set(keysOf(entries))).toEqual(new Set(keys))
  })

  it('a batch that failed midway is retried whole: duplicates, nothing lost, still dense', async () => {
    let puts = 0
    let failUntil = 0
    const client = faulty(log.client(), (command) => {
      if (command.constructor.name !== 'PutItemCommand') return undefined
      // After two appends the table fails for longer than the relay retries: the invocation fails.
      if (++puts === 3) failUntil = Date.now() + 600
      return Date.now() < failUntil ? new Error('socket hang up') : undefined
    })
    const { table, driver, publisher, lines } = await setUp({ client, appendTimeoutMs: 300 })
    const keys = Array.from({ length: 2_400 }, (_, i) => `user:${String(i).padStart(6, '0')}`)
    await publisher.invalidate(keys)
    const report = await driver.drain()
    expect(report.failedInvocations).toBeGreaterThanOrEqual(1)
    expect(lines.some((line) => line.error?.includes('socket hang up'))).toBe(true)
    const entries = await log.entries(table)
    expect(seqs(entries)).toEqual(entries.map((_, i) => i + 1))
    expect(new Set(keysOf(entries))).toEqual(new Set(keys))
    // The entries appended before the failure were appended again on the retry.
    expect(keysOf(entries).length).toBeGreaterThan(keys.length)
  })

  it('relays signed records: their signature is checked for the stream the batch came from', async () => {
    const secret = 'relay-test-secret-0123456789'
    const { stream, table, driver, publisher, lines } = await setUp({ secret })
    await publisher.invalidate(['users:5'])
    // Signed for another stream (a copy put here by a writer without the secret): skipped.
    await kinesis.putRaw(
      stream,
      encodeRecord({ keys: ['users:6'], prefixes: [], all: false }, Date.now(), secret, 'other'),
    )
    await driver.drain()
    expect(keysOf(await log.entries(table))).toEqual(['users:5'])
    expect(lines.reduce((sum, line) => sum + line.skippedRecords, 0)).toBe(1)
  })

  it('a batch larger than the entry cap becomes one `all` entry', async () => {
    const { table, driver, publisher, lines } = await setUp()
    const keys = Array.from({ length: 8_000 }, (_, i) => `key:${'x'.repeat(40)}:${i}`)
    await publisher.invalidate(keys)
    await driver.drain()
    const entries = await log.entries(table)
    expect(entries.length).toBeLessThanOrEqual(MAX_ENTRIES_PER_BATCH)
    expect(entries.some((entry) => entry.all)).toBe(true)
    expect(lines.some((line) => line.collapsed)).toBe(true)
  })

  it('skips and counts what is not an invalidation, and relays heartbeats as progress', async () => {
    const { table, driver, stream, lines } = await setUp()
    await kinesis.putRaw(stream, 'not json')
    await kinesis.putRaw(stream, heartbeatRecord(Date.now()))
    await driver.drain()
    const entries = await log.entries(table)
    expect(entries).toHaveLength(1)
    expect(entries[0]).toMatchObject({ seq: 1, keys: [], prefixes: [], all: false })
    expect(lines.at(-1)).toMatchObject({ skippedRecords: 1, heartbeats: 1, appended: 1 })
    expect(lines.at(-1)?.skipped[0]?.reason).toBe('not-json')
  })

  it('a table that stays unreachable fails the batch, which waits on its shard until the table is back', async () => {
    let down = true
    const client = faulty(log.client(), () => (down ? awsError('ECONNREFUSED') : undefined))
    const { table, driver, publisher, lines } = await setUp({ client, appendTimeoutMs: 300 })
    await publisher.invalidate(['users:1'])
    // While the table is down, every delivery fails, the on-failure one too: the shard stays put.
    await expect(driver.drain()).rejects.toThrow(/could not append/)
    expect(lines.every((line) => line.error !== undefined)).toBe(true)
    down = false
    await driver.drain()
    expect(keysOf(await log.entries(table))).toEqual(['users:1'])
  })

  it('a call that never answers is abandoned at the deadline: the batch fails, and is retried', async () => {
    // The table accepts the connection and never answers (no SDK timeout on a given client).
    let hang = true
    const real = log.client()
    const client = {
      send: ((command: Parameters<typeof real.send>[0], options?: { abortSignal?: AbortSignal }) =>
        hang
          ? new Promise((_, reject) =>
              options?.abortSignal?.addEventListener('abort', () =>
                reject(Object.assign(new Error('aborted'), { name: 'AbortError' })),
              ),
            )
          : real.send(command, options)) as typeof real.send,
    }
    const { table, driver, publisher, lines } = await setUp({ client, appendTimeoutMs: 300 })
    await publisher.invalidate(['users:7'])
    await expect(driver.drain()).rejects.toThrow(/could not append/)
    expect(lines[0]?.error).toMatch(/AbortError/)
    hang = false
    await driver.drain()
    expect(keysOf(await log.entries(table))).toEqual(['users:7'])
  })

  it('an on-failure message (a batch the mapping gave up on) appends `all`', async () => {
    const { table, relay } = await setUp({ copies: 2 })
    await relay({ Records: [{ eventSource: 'aws:sqs', messageId: 'm', body: '{}' }] })
    for (const copy of [0, 1]) expect((await log.entries(table, copy))[0]?.all).toBe(true)
  })

  it('throttled appends are retried within the invocation', async () => {
    let throttles = 2
    const client = faulty(log.client(), (command) =>
      command.constructor.name === 'PutItemCommand' && throttles-- > 0
        ? awsError('ProvisionedThroughputExceededException')
        : undefined,
    )
    const { table, driver, publisher, lines } = await setUp({ client })
    await publisher.invalidate(['users:9'])
    const report = await driver.drain()
    expect(report.failedInvocations).toBe(0)
    expect(lines.at(-1)?.retries).toBe(2)
    expect(keysOf(await log.entries(table))).toEqual(['users:9'])
  })

  it('never overwrites an entry: an append at a taken seq moves above it', async () => {
    const { table, driver, publisher } = await setUp()
    await publisher.invalidate(['a:1'])
    await driver.drain()
    // Another writer took seq 2 behind this relay's back (its cached head is now wrong).
    await log.client().send(
      new PutItemCommand({
        TableName: table,
        Item: {
          pk: { S: 'log#0' },
          seq: { N: '2' },
          keys: { L: [{ S: 'other:1' }] },
          at: { N: '1' },
        },
      }),
    )
    await publisher.invalidate(['a:2'])
    await driver.drain()
    const entries = await log.entries(table)
    expect(seqs(entries)).toEqual([1, 2, 3])
    expect(keysOf(entries)).toEqual(['a:1', 'other:1', 'a:2'])
  })

  it('appends above a malformed item at the head, at once, instead of from seq 1', async () => {
    const first = await setUp()
    await first.publisher.invalidate(['a:1'])
    await first.driver.drain()
    // Nothing a relay writes: a fractional seq with no fields, newest in the copy.
    await log.client().send(
      new PutItemCommand({
        TableName: first.table,
        Item: { pk: { S: 'log#0' }, seq: { N: '1.5' } },
      }),
    )
    // A cold relay reads the head: the next entry goes above the malformed item (seq 2) with
    // no conflict to climb through (read as seq 0, it would conflict its way up from seq 1).
    const cold = await setUp({ table: first.table })
    await cold.publisher.invalidate(['a:2'])
    expect((await cold.driver.drain()).failedInvocations).toBe(0)
    expect(cold.lines.at(-1)).toMatchObject({ appended: 1, conflicts: 0, headReads: 1 })
    const entries = await log.entries(first.table)
    expect(keysOf(entries)).toEqual(['a:1', 'a:2'])
    expect(entries.at(-1)?.seq).toBe(2)
  })

  it('a head read that lags behind the table still makes progress: each conflict moves up', async () => {
    const first = await setUp()
    for (const key of ['a:1', 'a:2', 'a:3']) {
      await first.publisher.invalidate([key])
      await first.driver.drain()
    }
    expect(seqs(await log.entries(first.table))).toEqual([1, 2, 3])
    // A relay whose head reads see an empty copy (a lagging replica, say): the truth is seq 3.
    // Without the conflicts' own evidence it would try seq 1 until its deadline.
    const real = log.client()
    const lagging = {
      send: ((command: { input?: { Limit?: number; ScanIndexForward?: boolean } }, options) =>
        command.input?.Limit === 1 && command.input.ScanIndexForward === false
          ? Promise.resolve({ Items: [] })
          : (real.send as (c: unknown, o?: unknown) => Promise<unknown>)(
              command,
              options,
            )) as typeof real.send,
    }
    const cold = await setUp({ table: first.table, client: lagging })
    await cold.publisher.invalidate(['b:1'])
    expect((await cold.driver.drain()).failedInvocations).toBe(0)
    expect(cold.lines.at(-1)).toMatchObject({ appended: 1, conflicts: 3 })
    expect(seqs(await log.entries(first.table))).toEqual([1, 2, 3, 4])
  })

  it('reads the head again after half the retention: never appends into a hole TTL left', async () => {
    let clock = Date.now()
    const idle = await setUp({ now: () => clock, retentionMs: 60_000 })
    await idle.publisher.invalidate(['a:1'])
    await idle.driver.drain()
    // While this relay idles, another appends seq 2 and 3, and TTL deletes seq 2 (expired
    // entries go in any order).
    const busy = await setUp({ table: idle.table })
    for (const key of ['b:1', 'b:2']) {
      await busy.publisher.invalidate([key])
      await busy.driver.drain()
    }
    await log.client().send(
      new DeleteItemCommand({
        TableName: idle.table,
        Key: { pk: { S: 'log#0' }, seq: { N: '2' } },
      }),
    )
    clock += 31_000
    await idle.publisher.invalidate(['a:2'])
    await idle.driver.drain()
    // At seq 2 (its remembered head + 1) it would land behind seq 3, unseen by readers past it.
    const entries = await log.entries(idle.table)
    expect(seqs(entries)).toEqual([1, 3, 4])
    expect(keysOf(entries)).toEqual(['a:1', 'b:2', 'a:2'])
    expect(idle.lines.at(-1)).toMatchObject({ appended: 1, conflicts: 0, headReads: 1 })
  })

  it('the heartbeat beats through its minute; each beat reaches the log as progress', async () => {
    const { table, driver, stream, lines } = await setUp()
    const slept: number[] = []
    const heartbeat = createHeartbeat({
      stream,
      intervalMs: 20_000,
      client: kinesis.client(),
      sleep: async (ms) => {
        slept.push(ms)
      },
    })
    expect(await heartbeat({}, { getRemainingTimeInMillis: () => 70_000 })).toEqual({
      beats: 3,
      failures: 0,
    })
    expect(slept).toEqual([20_000, 20_000])
    await driver.drain()
    const entries = await log.entries(table)
    expect(entries.length).toBeGreaterThanOrEqual(1)
    expect(entries.every((entry) => entry.keys.length === 0 && !entry.all)).toBe(true)
    expect(lines.reduce((sum, line) => sum + line.heartbeats, 0)).toBe(3)
  })
})
