import { describe, expect, it } from 'vitest'
import { container, Source } from '../../support/containers.js'
import { useKinesis } from '../../support/kinesis.js'

const kinesis = useKinesis()

describe('two containers on one stream (kinesalite)', () => {
  it('a write through one container evicts the key in the other', async () => {
    const stream = await kinesis.createStream(1)
    const source = new Source()
    source.values.set('users:42', 'Ada')
    const a = container(source, stream, kinesis.client())
    const b = container(source, stream, kinesis.client())

    expect(await b.invoke({ op: 'get', key: 'users:42' })).toBe('Ada')
    expect(await b.invoke({ op: 'get', key: 'users:42' })).toBe('Ada')
    expect(b.lastLog()).toMatchObject({ hits: 1, misses: 0 })
    expect(source.loads).toBe(1)

    await a.invoke({ op: 'put', key: 'users:42', value: 'Grace' })

    expect(await b.invoke({ op: 'get', key: 'users:42' })).toBe('Grace')
    expect(b.lastLog()).toMatchObject({ evicted: 1, records: 1, misses: 1, loads: 1 })
    expect(source.loads).toBe(2)
  })

  it('the writer evicts in its own container before the record comes back', async () => {
    const stream = await kinesis.createStream(1)
    const source = new Source()
    source.values.set('users:1', 'old')
    // The writer's container never polls again within this test: its own eviction must be local.
    const a = container(source, stream, kinesis.client(), {
      pollIntervalMs: 60_000,
      maxStalenessMs: 120_000,
    })
    expect(await a.invoke({ op: 'get', key: 'users:1' })).toBe('old')
    await a.invoke({ op: 'put', key: 'users:1', value: 'new' })
    expect(a.lastLog().evicted).toBe(1)
    expect(await a.invoke({ op: 'get', key: 'users:1' })).toBe('new')
  })
})
