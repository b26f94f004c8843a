import type { Context } from 'aws-lambda'
import { describe, expect, it } from 'vitest'
import { setUp } from '../../../examples/snippets/testing.js'
import type { WithCache } from '../../../src/index.js'
import { createScache } from '../../../src/index.js'
import { createTestClock, MemoryKinesis } from '../../../src/testing/index.js'
import { lambdaContext } from '../../support/containers.js'

const context = () => lambdaContext() as Context & WithCache

describe('scache/testing', () => {
  it('the documented set-up: a handler caches, and an invalidation reaches it through the stream', async () => {
    const { clock, users, handler, publisher } = setUp()
    expect(await handler({ id: '42' }, context())).toBe('Ada')
    users.set('42', 'Ada Lovelace')
    clock.advance(1_000)
    expect(await handler({ id: '42' }, context())).toBe('Ada') // cached, nothing published yet
    await publisher.invalidate('users:42')
    clock.advance(1_000)
    expect(await handler({ id: '42' }, context())).toBe('Ada Lovelace')
  })

  it('carries invalidations between containers, by key, prefix and all, in order', async () => {
    const clock = createTestClock()
    const kinesis = new MemoryKinesis({ now: clock.now })
    const stream = kinesis.createStream('s')
    const options = {
      stream: { name: stream, client: kinesis.client },
      clock: { now: clock.now },
      log: false,
    }
    const [a, b] = [createScache(options), createScache(options)]
    for (const container of [a, b]) {
      const invocation = await container.begin()
      for (const key of ['users:1', 'users:2', 'orders:1'])
        await invocation.cache.getOrLoad(key, () => key)
      invocation.end()
    }
    const writer = await a.begin()
    await writer.cache.invalidate('users:1')
    await writer.cache.invalidatePrefix('orders:')
    writer.end()
    expect(kinesis.records(stream)).toHaveLength(2)
    clock.advance(1_000)
    const reader = await b.begin()
    expect(reader.cache.get('users:1')).toBeUndefined()
    expect(reader.cache.get('orders:1')).toBeUndefined()
    expect(reader.cache.get('users:2')).toBe('users:2')
    expect(reader.end()).toMatchObject({ evicted: 2, records: 2 })
    // An idle container past the iterator's 5 minutes resumes after its last record.
    clock.advance(10 * 60_000)
    const writer2 = await a.begin()
    await writer2.cache.invalidateAll()
    writer2.end()
    const late = await b.begin()
    expect(late.cache.get('users:2')).toBeUndefined()
    late.end()
  })

  it('names a stream that does not exist as Kinesis does', async () => {
    const kinesis = new MemoryKinesis()
    const instance = createScache({ stream: { name: 'nope', client: kinesis.client }, log: false })
    instance.cache.set('users:1', 'v')
    const invocation = await instance.begin()
    expect(invocation.poll?.errors[0]?.name).toBe('ResourceNotFoundException')
    invocation.end()
  })
})
