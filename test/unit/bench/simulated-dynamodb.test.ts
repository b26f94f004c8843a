import {
  ConditionalCheckFailedException,
  ProvisionedThroughputExceededException,
  PutItemCommand,
  QueryCommand,
  ThrottlingException,
} from '@aws-sdk/client-dynamodb'
import { describe, expect, it } from 'vitest'
import { itemBytes, SimulatedDynamoDB } from '../../../bench/fleet/dynamodb.js'

const TABLE = 'log'

const entry = (seq: number, keys: string[] = ['users:1'], copy = 0) => ({
  pk: { S: `log#${copy}` },
  seq: { N: String(seq) },
  keys: { L: keys.map((key) => ({ S: key })) },
  at: { N: '1763700000000' },
})

const append = (seq: number, keys?: string[], copy = 0) =>
  new PutItemCommand({
    TableName: TABLE,
    Item: entry(seq, keys, copy),
    ConditionExpression: 'attribute_not_exists(#seq)',
    ExpressionAttributeNames: { '#seq': 'seq' },
  })

const poll = (after: number, consistent = true, copy = 0, limit = 100) =>
  new QueryCommand({
    TableName: TABLE,
    KeyConditionExpression: '#pk = :pk AND #seq > :after',
    ExpressionAttributeNames: { '#pk': 'pk', '#seq': 'seq' },
    ExpressionAttributeValues: { ':pk': { S: `log#${copy}` }, ':after': { N: String(after) } },
    ConsistentRead: consistent,
    ScanIndexForward: true,
    Limit: limit,
  })

const thrown = (fn: () => unknown): unknown => {
  try {
    fn()
  } catch (error) {
    return error
  }
  throw new Error('did not throw')
}

type Page = { Items: Record<string, { N?: string }>[]; LastEvaluatedKey?: unknown }
const seqs = (page: unknown) => (page as Page).Items.map((item) => Number(item.seq?.N))

const table = (extra: object = {}) =>
  new SimulatedDynamoDB({
    tables: [{ name: TABLE, partitionKey: 'pk', sortKey: 'seq', ...extra }],
  })

describe('the fleet simulation’s DynamoDB', () => {
  it('answers a conditional append once per seq, and a Query after a position in order, paged by Limit', () => {
    const db = table()
    for (const seq of [1, 3, 2]) db.handle(append(seq), 0)
    const conflict = thrown(() => db.handle(append(2), 1))
    expect(conflict).toBeInstanceOf(ConditionalCheckFailedException)
    expect(seqs(db.handle(poll(1), 2))).toEqual([2, 3])
    const page = db.handle(poll(0, true, 0, 2), 3) as Page
    expect(seqs(page)).toEqual([1, 2])
    expect(page.LastEvaluatedKey).toEqual({ pk: { S: 'log#0' }, seq: { N: '2' } })
    const newest = db.handle(
      new QueryCommand({
        TableName: TABLE,
        KeyConditionExpression: '#pk = :pk',
        ExpressionAttributeNames: { '#pk': 'pk' },
        ExpressionAttributeValues: { ':pk': { S: 'log#0' } },
        ConsistentRead: true,
        ScanIndexForward: false,
        Limit: 1,
      }),
      4,
    )
    expect(seqs(newest)).toEqual([3])
    expect(db.stats()).toMatchObject({ conditionalFailures: 1, calls: { PutItem: 4, Query: 3 } })
  })

  it('charges a Query by the summed size of what it returns, in 4 KB steps: 1 unit consistent, 0.5 eventual, even when empty', () => {
    const db = table()
    db.handle(poll(0), 0)
    db.handle(poll(0, false), 0)
    expect(db.stats()).toMatchObject({ consistentReadUnits: 1, eventualReadUnits: 0.5 })
    // Three entries of ~1.5 KB each: 4.5 KB summed, two steps.
    const keys = Array.from({ length: 15 }, (_, i) => `users:${String(i).padStart(90, '0')}`)
    for (const seq of [1, 2, 3]) db.handle(append(seq, keys), 0)
    const bytes = itemBytes(entry(1, keys))
    expect(bytes).toBeGreaterThan(1_400)
    expect(bytes * 3).toBeGreaterThan(4 * 1024)
    expect(bytes * 3).toBeLessThan(8 * 1024)
    db.resetStats()
    db.handle(poll(0), 1)
    db.handle(poll(0, false), 1)
    expect(db.stats()).toMatchObject({
      consistentReadUnits: 2,
      eventualReadUnits: 1,
      writeUnits: 0,
    })
    // Writes: one unit per KB of the item, rounded up.
    db.handle(append(4, keys), 2)
    expect(db.stats().writeUnits).toBe(Math.ceil(bytes / 1024))
  })

  it('throttles a partition past 3,000 read units in a second, as ProvisionedThroughputExceededException with its reason, and serves again once paid back', () => {
    const db = table()
    for (let i = 0; i < 3_000; i++) db.handle(poll(0), i / 3)
    const error = thrown(() => db.handle(poll(0), 999))
    expect(error).toBeInstanceOf(ProvisionedThroughputExceededException)
    expect(error).toMatchObject({
      name: 'ProvisionedThroughputExceededException',
      $metadata: { httpStatusCode: 400 },
      ThrottlingReasons: [{ reason: 'TableReadKeyRangeThroughputExceeded' }],
    })
    // Another partition (copy) has its own budget.
    expect(() => db.handle(poll(0, true, 1), 999)).not.toThrow()
    // Eventually consistent reads cost half: the refilled budget takes twice as many.
    expect(() => db.handle(poll(0, false), 1_200)).not.toThrow()
    expect(db.stats().throttled).toEqual({ Query: 1 })
    const later = table()
    for (let i = 0; i < 5_000; i++) later.handle(poll(0, false), i / 5)
    expect(later.stats().throttled).toEqual({})
  })

  it('shares a partition between reads and writes: 1,000 write units spend what 3,000 read units would', () => {
    const db = table()
    for (let seq = 1; seq <= 1_000; seq++) db.handle(append(seq), seq / 2)
    expect(thrown(() => db.handle(poll(0, true, 0, 1), 600))).toBeInstanceOf(
      ProvisionedThroughputExceededException,
    )
    expect(thrown(() => db.handle(append(1_001), 600))).toMatchObject({
      ThrottlingReasons: [{ reason: 'TableWriteKeyRangeThroughputExceeded' }],
    })
  })

  it('enforces a provisioned table’s read capacity, and an on-demand maximum as ThrottlingException', () => {
    const provisioned = table({ provisioned: { readUnits: 10, writeUnits: 10 } })
    for (let i = 0; i < 10; i++) provisioned.handle(poll(0, true, i), i)
    expect(thrown(() => provisioned.handle(poll(0, true, 99), 10))).toMatchObject({
      ThrottlingReasons: [{ reason: 'TableReadProvisionedThroughputExceeded' }],
    })
    const capped = table({ maxReadUnitsPerSecond: 4 })
    for (let i = 0; i < 4; i++) capped.handle(poll(0, true, i), i)
    const error = thrown(() => capped.handle(poll(0, true, 50), 10))
    expect(error).toBeInstanceOf(ThrottlingException)
    expect(error).toMatchObject({
      throttlingReasons: [{ reason: 'TableReadMaxOnDemandThroughputExceeded' }],
    })
  })

  it('hides a write from eventually consistent reads for the lag, never from strongly consistent ones', () => {
    const db = new SimulatedDynamoDB({
      tables: [{ name: TABLE, partitionKey: 'pk', sortKey: 'seq' }],
      eventualLagMs: 500,
    })
    db.handle(append(1), 1_000)
    expect(seqs(db.handle(poll(0, false), 1_200))).toEqual([])
    expect(seqs(db.handle(poll(0, true), 1_200))).toEqual([1])
    expect(seqs(db.handle(poll(0, false), 1_500))).toEqual([1])
  })

  it('answers through a client’s send in the caller’s virtual time', async () => {
    const db = table()
    const clock = { t: 100 }
    const client = db.client({
      now: () => clock.t,
      arrive: (at) => {
        clock.t = Math.max(clock.t, at)
      },
      latencyMs: () => 7,
    })
    await client.send(append(1))
    const page = await client.send(poll(0))
    expect(page.Items?.map((item) => item.seq?.N)).toEqual(['1'])
    expect(clock.t).toBe(114)
    await expect(client.send(append(1))).rejects.toBeInstanceOf(ConditionalCheckFailedException)
  })
})
