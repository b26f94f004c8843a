import { describe, expect, it } from 'vitest'
import { createPublisher, createScache, encodeRecord } from '../../../src/index.js'
import { container, Source } from '../../support/containers.js'
import { useKinesis } from '../../support/kinesis.js'

const kinesis = useKinesis()

const SECRET = 'correct-horse-battery-staple'

describe('signed invalidations (kinesalite)', () => {
  it('readers with the secret apply signed records and skip forged ones, counted and logged', async () => {
    const stream = await kinesis.createStream(1)
    const source = new Source()
    for (const key of ['users:1', 'users:2', 'users:3']) source.values.set(key, 'v1')
    const reader = container(source, stream, kinesis.client(), { secret: SECRET })
    for (const key of ['users:1', 'users:2', 'users:3']) await reader.invoke({ op: 'get', key })

    const signed = createPublisher({ streamName: stream, client: kinesis.client(), secret: SECRET })
    await signed.invalidate('users:1')
    // Anyone with PutRecord can write; without the secret their records do nothing.
    await kinesis.putRaw(stream, encodeRecord({ keys: ['users:2'], prefixes: [], all: false }, 1))
    await createPublisher({
      streamName: stream,
      client: kinesis.client(),
      secret: 'a-guessed-secret-0123456789',
    }).invalidateAll()

    await reader.invoke({ op: 'get', key: 'users:3' })
    const line = reader.lastLog()
    expect(line).toMatchObject({ records: 3, skippedRecords: 2, evicted: 1, hits: 1 })
    expect(line.skipped?.map((skip) => skip.reason)).toEqual(['unsigned', 'bad-signature'])
    expect(reader.instance.cache.has('users:2')).toBe(true)
    expect(reader.instance.cache.has('users:1')).toBe(false)
  })

  it("a container's own invalidate signs with its secret, so other containers apply it", async () => {
    const stream = await kinesis.createStream(1)
    // No publisher given: the default one, on the stream's client, signs with the first secret.
    const options = {
      stream: { name: stream, client: kinesis.client() },
      secret: [SECRET, 'the-previous-secret-0123'],
      pollIntervalMs: 0,
      log: false,
    } as const
    const writer = createScache(options)
    const reader = createScache(options)
    reader.cache.set('users:1', 'v1')
    ;(await reader.begin()).end()
    const write = await writer.begin()
    await write.cache.invalidate('users:1')
    write.end()
    const read = await reader.begin()
    expect(read.cache.get('users:1')).toBeUndefined()
    expect(read.end()).toMatchObject({ records: 1, skippedRecords: 0, evicted: 1 })
  })
})
