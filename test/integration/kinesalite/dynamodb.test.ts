import { describe, expect, it } from 'vitest'
import { createPublisher, dynamoDbDecoder } from '../../../src/index.js'
import { container, Source } from '../../support/containers.js'
import { useKinesis } from '../../support/kinesis.js'

const kinesis = useKinesis()

/** What DynamoDB puts on the stream when an item of `table` changes. */
const changeRecord = (table: string, id: string, at: number) =>
  JSON.stringify({
    awsRegion: 'us-east-1',
    eventID: `${table}-${id}-${at}`,
    eventName: 'MODIFY',
    userIdentity: null,
    recordFormat: 'application/json',
    tableName: table,
    dynamodb: {
      ApproximateCreationDateTime: at,
      Keys: { id: { S: id } },
      NewImage: { id: { S: id }, name: { S: 'changed' } },
      SizeBytes: 50,
    },
    eventSource: 'aws:dynamodb',
  })

describe('DynamoDB change records on the invalidation stream (kinesalite)', () => {
  it("a table's changes evict its keys with no writer code; scache's records and other tables' coexist", async () => {
    const stream = await kinesis.createStream(2)
    const source = new Source()
    for (const key of ['users:1', 'users:2', 'users:3', 'audit:1']) source.values.set(key, 'v1')
    const reader = container(source, stream, kinesis.client(), {
      decoders: [dynamoDbDecoder({ tables: { Users: ({ id }) => `users:${id}` } })],
    })
    for (const key of ['users:1', 'users:2', 'users:3', 'audit:1'])
      await reader.invoke({ op: 'get', key })

    // The table changes users 1 (ms timestamps) and 2 (µs); another table changes too; and a
    // scache publisher invalidates audit:1 on the same stream.
    for (const key of ['users:1', 'users:2', 'audit:1']) source.values.set(key, 'v2')
    await kinesis.putRaw(stream, changeRecord('Users', '1', Date.now()))
    await kinesis.putRaw(stream, changeRecord('Users', '2', Date.now() * 1_000))
    await kinesis.putRaw(stream, changeRecord('Sessions', '3', Date.now()))
    await createPublisher({ streamName: stream, client: kinesis.client() }).invalidate('audit:1')

    expect(await reader.invoke({ op: 'get', key: 'users:1' })).toBe('v2')
    expect(reader.lastLog()).toMatchObject({ records: 4, skippedRecords: 0, evicted: 3 })
    expect(await reader.invoke({ op: 'get', key: 'users:2' })).toBe('v2')
    expect(await reader.invoke({ op: 'get', key: 'audit:1' })).toBe('v2')
    expect(await reader.invoke({ op: 'get', key: 'users:3' })).toBe('v1') // Sessions: ignored
    expect(reader.lastLog().hits).toBe(1)
  })

  it('without the decoder, change records are skipped and counted, never applied', async () => {
    const stream = await kinesis.createStream(1)
    const source = new Source()
    source.values.set('users:1', 'v1')
    const reader = container(source, stream, kinesis.client())
    await reader.invoke({ op: 'get', key: 'users:1' })
    await kinesis.putRaw(stream, changeRecord('Users', '1', Date.now()))
    await reader.invoke({ op: 'get', key: 'users:1' })
    expect(reader.lastLog()).toMatchObject({ records: 1, skippedRecords: 1, evicted: 0, hits: 1 })
  })
})
