import { describe, expect, it } from 'vitest'
import { createPublisher, createScache, encodeRecord } from '../../../src/index.js'
import { Source } from '../../support/containers.js'
import { useKinesis } from '../../support/kinesis.js'

const kinesis = useKinesis()

describe('order and duplicates (kinesalite)', () => {
  it('duplicate and out-of-order records are harmless: the cache ends on the latest value', async () => {
    const stream = await kinesis.createStream(2)
    const source = new Source()
    source.values.set('users:1', 'v1')
    const instance = createScache({
      stream: { name: stream, client: kinesis.client() },
      pollIntervalMs: 0,
      log: false,
    })
    const read = async () => {
      const invocation = await instance.begin()
      const value = await invocation.cache.getOrLoad('users:1', () => source.read('users:1'))
      return { value, line: invocation.end() }
    }
    await read()
    expect((await read()).line.hits).toBe(1)

    // v2 and v3 are written; their records arrive twice each (a retried PutRecords) and newest
    // first, on different shards (other partition keys): `at` is not an order scache relies on.
    source.values.set('users:1', 'v3')
    const now = Date.now()
    const v3 = encodeRecord({ keys: ['users:1'], prefixes: [], all: false }, now)
    const v2 = encodeRecord({ keys: ['users:1'], prefixes: [], all: false }, now - 1_000)
    for (const [record, partitionKey] of [
      [v3, 'a'],
      [v3, 'b'],
      [v2, 'c'],
      [v2, 'a'],
    ] as const) {
      await kinesis.putRaw(stream, record, partitionKey)
    }
    const after = await read()
    expect(after.value).toBe('v3')
    expect(after.line).toMatchObject({ records: 4, skippedRecords: 0, evicted: 1, misses: 1 })

    // A duplicate that arrives after the reload evicts a fresh value: a miss, never a stale read.
    await kinesis.putRaw(stream, v3, 'b')
    const late = await read()
    expect(late.value).toBe('v3')
    expect(late.line).toMatchObject({ records: 1, evicted: 1, misses: 1 })
    expect((await read()).line).toMatchObject({ hits: 1, records: 0 })
  })

  it('the fill guard: an invalidation read from the stream mid-load keeps the loaded value out', async () => {
    const stream = await kinesis.createStream(1)
    const source = new Source()
    source.values.set('users:1', 'old')
    const instance = createScache({
      stream: { name: stream, client: kinesis.client() },
      pollIntervalMs: 0,
      log: false,
    })
    const warm = await instance.begin()
    warm.cache.set('orders:1', 'kept') // something cached, so the next begins really poll
    warm.end()

    // Request A starts two concurrent loads of one key: they share one read of the source.
    let release: () => void = () => {}
    const gate = new Promise<void>((resolve) => {
      release = resolve
    })
    const a = await instance.begin()
    const slowLoad = async () => {
      const value = await source.read('users:1')
      await gate
      return value
    }
    const loads = [a.cache.getOrLoad('users:1', slowLoad), a.cache.getOrLoad('users:1', slowLoad)]

    // Meanwhile another container writes and publishes; request B, overlapping A in this
    // container, reads the invalidation from the stream.
    source.values.set('users:1', 'new')
    await createPublisher({ streamName: stream, client: kinesis.client() }).invalidate('users:1')
    const b = await instance.begin()
    expect(b.poll?.invalidations).toBe(1)
    // B does not join A's overtaken load: it reads the new value.
    expect(await b.cache.getOrLoad('users:1', () => source.read('users:1'))).toBe('new')

    release()
    expect(await Promise.all(loads)).toEqual(['old', 'old']) // A gets what it read…
    expect(source.loads).toBe(2) // …from one shared load, and B's own
    a.end()
    b.end()
    // …but the cache holds B's value, not A's.
    expect(instance.cache.get('users:1')?.value).toBe('new')
  })

  it("a request that begins during another request's poll does not rely on it", async () => {
    const stream = await kinesis.createStream(1)
    const client = kinesis.client()
    // The next GetRecords answer is held on its way back until the test lets it go: however busy
    // the machine, the invalidation below is acknowledged after that poll read the stream.
    let hold: { read: () => void; released: Promise<void> } | undefined
    client.middlewareStack.add(
      (next) => async (args) => {
        const result = await next(args)
        const held = hold
        hold = undefined
        held?.read()
        await held?.released
        return result
      },
      { step: 'initialize', name: 'scacheTestHeldResponse' },
    )
    const instance = createScache({
      stream: { name: stream, client },
      pollIntervalMs: 0,
      log: false,
    })
    instance.cache.set('users:1', 'old')
    ;(await instance.begin()).end()

    let release = () => {}
    const released = new Promise<void>((resolve) => (release = resolve))
    const read = new Promise<void>((resolve) => (hold = { read: resolve, released }))
    const a = instance.begin()
    await read // a's poll has read the stream, and its answer is on its way back
    await createPublisher({ streamName: stream, client: kinesis.client() }).invalidate('users:1')
    const beginning = instance.begin() // begins after the acknowledgement, during a's poll
    release()
    const b = await beginning
    expect(b.cache.get('users:1')).toBeUndefined()
    b.end()
    ;(await a).end()
  })
})
