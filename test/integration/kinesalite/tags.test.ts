import { type KinesisClient, PutRecordCommand } from '@aws-sdk/client-kinesis'
import middy from '@middy/core'
import type { Context } from 'aws-lambda'
import { describe, expect, it } from 'vitest'
import {
  createPublisher,
  createScache,
  dynamoDbDecoder,
  type InvocationLog,
  type RecordDecoder,
  scache,
  type WithCache,
} from '../../../src/index.js'
import { lambdaContext } from '../../support/containers.js'
import { useKinesis } from '../../support/kinesis.js'

const kinesis = useKinesis()
const SECRET = 'a-secret-shared-by-both-containers'

/** Orders per user, and users' profiles: what the handlers read. */
class Orders {
  readonly byUser = new Map<string, string[]>([
    ['7', ['o1', 'o2']],
    ['8', ['o3']],
  ])
  loads = 0

  list(user: string): string[] {
    this.loads++
    return [...(this.byUser.get(user) ?? [])]
  }
}

type Request =
  | { readonly op: 'orders'; readonly user: string }
  | { readonly op: 'recent' }
  | { readonly op: 'profile'; readonly user: string; readonly part: string }
  | { readonly op: 'order'; readonly user: string; readonly order: string }
  | { readonly op: 'pattern'; readonly pattern: string }

/** One simulated container: its own cache and stream position, a Middy handler over it. */
const container = (
  orders: Orders,
  stream: string,
  client: KinesisClient,
  decoders: readonly RecordDecoder[] = [],
) => {
  const logs: InvocationLog[] = []
  const handler = middy(async (event: Request, context: Context & WithCache) => {
    const cache = context.cache
    switch (event.op) {
      case 'orders':
        // No key or prefix names this list when user 7 changes; its tag does.
        return cache.getOrLoad(`orders:by-user:${event.user}`, () => orders.list(event.user), {
          tags: [`user:${event.user}`],
        })
      case 'recent':
        // A list that learns which users it holds while loading: it tags itself with each.
        return cache.getOrLoad('orders:recent', (load) => {
          const users = ['7', '8']
          load.tag(...users.map((user) => `user:${user}`))
          return users.flatMap((user) => orders.list(user))
        })
      case 'profile':
        return cache.getOrLoad(`users:${event.user}:${event.part}`, () => {
          orders.loads++
          return `${event.part} of ${event.user}`
        })
      case 'order':
        orders.byUser.get(event.user)?.push(event.order)
        await cache.invalidateTags(`user:${event.user}`)
        return 'ok'
      case 'pattern':
        await cache.invalidatePattern(event.pattern)
        return 'ok'
    }
  }).use(
    scache({
      pollIntervalMs: 0,
      secret: SECRET,
      decoders,
      stream: { name: stream, client },
      publisher: createPublisher({ streamName: stream, client, secret: SECRET }),
      log: (line) => logs.push(line),
    }),
  )
  return {
    invoke: (event: Request) => handler(event, lambdaContext() as Context & WithCache),
    lastLog: () => logs.at(-1) as InvocationLog,
  }
}

describe('tags and patterns across two containers (kinesalite)', () => {
  it('a tag invalidation in one container evicts the tagged entries in the other, and only them', async () => {
    const stream = await kinesis.createStream(1)
    const orders = new Orders()
    const a = container(orders, stream, kinesis.client())
    const b = container(orders, stream, kinesis.client())

    expect(await b.invoke({ op: 'orders', user: '7' })).toEqual(['o1', 'o2'])
    expect(await b.invoke({ op: 'orders', user: '8' })).toEqual(['o3'])
    expect(await b.invoke({ op: 'recent' })).toEqual(['o1', 'o2', 'o3'])
    expect(await b.invoke({ op: 'orders', user: '7' })).toEqual(['o1', 'o2'])
    expect(b.lastLog()).toMatchObject({ hits: 1, misses: 0 })
    const loads = orders.loads

    await a.invoke({ op: 'order', user: '7', order: 'o4' })

    // User 7's list and the recent list (tagged by its loader) are gone; user 8's stays.
    expect(await b.invoke({ op: 'orders', user: '7' })).toEqual(['o1', 'o2', 'o4'])
    expect(b.lastLog()).toMatchObject({ records: 1, evicted: 2, misses: 1 })
    expect(await b.invoke({ op: 'recent' })).toEqual(['o1', 'o2', 'o4', 'o3'])
    expect(await b.invoke({ op: 'orders', user: '8' })).toEqual(['o3'])
    expect(b.lastLog()).toMatchObject({ hits: 1, misses: 0 })
    expect(b.lastLog().cleared).toBeUndefined()
    // Three loads for the two lists evicted (the recent one reads two users).
    expect(orders.loads).toBe(loads + 3)
  })

  it('a pattern evicts the matching keys in both containers, within one segment', async () => {
    const stream = await kinesis.createStream(1)
    const orders = new Orders()
    const a = container(orders, stream, kinesis.client())
    const b = container(orders, stream, kinesis.client())
    for (const user of ['1', '2'])
      for (const part of ['profile', 'settings']) await b.invoke({ op: 'profile', user, part })
    await b.invoke({ op: 'orders', user: '7' })
    expect(b.lastLog().hits).toBe(0)

    await a.invoke({ op: 'pattern', pattern: 'users:*:profile' })

    await b.invoke({ op: 'orders', user: '7' })
    expect(b.lastLog()).toMatchObject({ records: 1, evicted: 2, hits: 1 })
    await b.invoke({ op: 'profile', user: '1', part: 'settings' })
    expect(b.lastLog()).toMatchObject({ hits: 1, misses: 0 })
    await b.invoke({ op: 'profile', user: '2', part: 'profile' })
    expect(b.lastLog()).toMatchObject({ hits: 0, misses: 1 })
  })

  it('a load overtaken by a tag invalidation read in another invocation is not stored', async () => {
    const stream = await kinesis.createStream(1)
    const client = kinesis.client()
    const reader = createScache({
      stream: { name: stream, client },
      pollIntervalMs: 0,
      log: () => {},
    })
    // A warm container: something cached, so polls are not skipped.
    const warm = await reader.begin()
    warm.cache.set('unrelated', 1)
    warm.end()
    let release = (_: string[]) => {}
    const slow = await reader.begin()
    const loading = slow.cache.getOrLoad(
      'orders:by-user:7',
      () => new Promise<string[]>((resolve) => (release = resolve)),
      { tags: ['user:7'] },
    )
    await createPublisher({ streamName: stream, client }).invalidateTags('user:7')
    // Another invocation of the same container reads the record while the load runs.
    const other = await reader.begin()
    expect(other.poll?.records).toBe(1)
    other.end()
    release(['read before the change'])
    expect(await loading).toEqual(['read before the change'])
    slow.end()
    const after = await reader.begin()
    expect(after.cache.get('orders:by-user:7')).toBeUndefined()
    expect(after.cache.get('unrelated')).toBe(1)
    after.end()
  })

  it('tags from DynamoDB change records', async () => {
    const stream = await kinesis.createStream(1)
    const orders = new Orders()
    const decoder = dynamoDbDecoder({
      tables: { users: (key) => ({ keys: [`users:${key.id}`], tags: [`user:${key.id}`] }) },
    })
    const b = container(orders, stream, kinesis.client(), [decoder])
    await b.invoke({ op: 'orders', user: '7' })
    await b.invoke({ op: 'orders', user: '8' })
    const change = {
      eventSource: 'aws:dynamodb',
      tableName: 'users',
      eventName: 'MODIFY',
      dynamodb: { Keys: { id: { S: '7' } }, ApproximateCreationDateTime: Date.now() },
    }
    await kinesis.client().send(
      new PutRecordCommand({
        StreamName: stream,
        PartitionKey: 'users#7',
        Data: new TextEncoder().encode(JSON.stringify(change)),
      }),
    )
    await b.invoke({ op: 'orders', user: '8' })
    expect(b.lastLog()).toMatchObject({ records: 1, evicted: 1, hits: 1 })
    await b.invoke({ op: 'orders', user: '7' })
    expect(b.lastLog()).toMatchObject({ misses: 1 })
  })
})
