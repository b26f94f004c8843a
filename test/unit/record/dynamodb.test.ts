import { describe, expect, it } from 'vitest'
import {
  type DynamoDbChange,
  dynamoDbDecoder,
  parseDynamoDbChange,
} from '../../../src/record/dynamodb.js'
import { decodeWith, encodeRecord } from '../../../src/record/index.js'

/** A change record as "Kinesis Data Streams for DynamoDB" writes it. */
const change = (fields: Record<string, unknown> = {}, dynamodb: Record<string, unknown> = {}) =>
  new TextEncoder().encode(
    JSON.stringify({
      awsRegion: 'us-east-1',
      eventID: '7f1d…',
      eventName: 'MODIFY',
      userIdentity: null,
      recordFormat: 'application/json',
      tableName: 'Users',
      dynamodb: {
        ApproximateCreationDateTime: 1_763_700_000_000,
        Keys: { id: { S: '42' } },
        NewImage: { id: { S: '42' }, name: { S: 'Ada' } },
        SizeBytes: 40,
        ...dynamodb,
      },
      eventSource: 'aws:dynamodb',
      ...fields,
    }),
  )

const seen: DynamoDbChange[] = []
const decoders = [
  dynamoDbDecoder({
    tables: {
      Users: ({ id }, c) => {
        seen.push(c)
        return `users:${id}`
      },
      Orders: ({ customer, order }) => [`orders:${customer}:${order}`, `customers:${customer}`],
    },
  }),
]
const decode = (data: Uint8Array) => decodeWith(decoders, data)

const json = (data: Uint8Array): unknown => JSON.parse(new TextDecoder().decode(data))

describe('parseDynamoDbChange', () => {
  it('reads any table’s change: table, event, key attributes as strings, creation time', () => {
    const order = change(
      { tableName: 'Anything', eventName: 'REMOVE' },
      { Keys: { customer: { N: '7' }, order: { S: 'A-1' } } },
    )
    expect(parseDynamoDbChange(json(order))).toEqual({
      ok: true,
      record: {
        change: {
          tableName: 'Anything',
          eventName: 'REMOVE',
          approximateCreationTime: 1_763_700_000_000,
        },
        key: { customer: '7', order: 'A-1' },
      },
    })
  })

  it('leaves other records alone and names a malformed change', () => {
    expect(parseDynamoDbChange({ v: 1, keys: ['k'] })).toBeUndefined()
    expect(parseDynamoDbChange('text')).toBeUndefined()
    expect(parseDynamoDbChange(json(change({}, { Keys: { id: { X: '1' } } })))).toEqual({
      ok: false,
      reason: 'bad-field',
    })
  })
})

describe('dynamoDbDecoder', () => {
  it('maps a change to the cache keys of its table, with its key attributes as strings', () => {
    expect(decode(change())).toMatchObject({
      ok: true,
      invalidation: { keys: ['users:42'], prefixes: [], all: false },
      at: 1_763_700_000_000,
    })
    const order = change(
      { tableName: 'Orders', eventName: 'REMOVE' },
      { Keys: { customer: { N: '7' }, order: { S: 'A-1' } } },
    )
    expect(decode(order)).toMatchObject({
      ok: true,
      invalidation: { keys: ['orders:7:A-1', 'customers:7'] },
    })
  })

  it('reads ApproximateCreationDateTime in milliseconds or microseconds', () => {
    seen.length = 0
    decode(change({}, { ApproximateCreationDateTime: 1_763_700_000_123 }))
    decode(change({}, { ApproximateCreationDateTime: 1_763_700_000_123_456 }))
    decode(change({}, { ApproximateCreationDateTime: 'soon' }))
    expect(seen.map((c) => c.approximateCreationTime)).toEqual([
      1_763_700_000_123,
      1_763_700_000_123,
      undefined,
    ])
    expect(seen[0]).toMatchObject({ tableName: 'Users', eventName: 'MODIFY' })
  })

  it("ignores other tables' changes: a valid record that evicts nothing", () => {
    expect(decode(change({ tableName: 'Audit' }))).toMatchObject({
      ok: true,
      invalidation: { keys: [], prefixes: [], all: false },
    })
  })

  it("leaves scache's own records, and anything else, to the next decoder", () => {
    const own = encodeRecord({ keys: ['users:1'], prefixes: [], all: false }, 1)
    expect(decode(own)).toMatchObject({ ok: true, invalidation: { keys: ['users:1'] } })
    expect(decode(change({ eventSource: 'aws:s3' }))).toEqual({ ok: false, reason: 'bad-version' })
    expect(decode(new TextEncoder().encode('not json'))).toEqual({ ok: false, reason: 'not-json' })
  })

  it.each([
    ['no Keys', change({}, { Keys: undefined })],
    ['empty Keys', change({}, { Keys: {} })],
    ['a key of another type', change({}, { Keys: { id: { BOOL: true } } })],
    ['a key with two types', change({}, { Keys: { id: { S: '1', N: '1' } } })],
    ['a key whose value is not a string', change({}, { Keys: { id: { S: 42 } } })],
    ['an unknown event', change({ eventName: 'TRUNCATE' })],
    ['no table name', change({ tableName: 7 })],
    ['no dynamodb section', change({ dynamodb: 'x' })],
  ])('skips a change record with %s', (_, data) => {
    expect(decode(data)).toEqual({ ok: false, reason: 'bad-field' })
  })

  it('drops mapped keys that are not valid cache keys, and skips a change that maps to none', () => {
    const decoder = [
      dynamoDbDecoder({ tables: { Users: ({ id }) => (id === '1' ? ['', 'users:1'] : ['']) } }),
    ]
    expect(decodeWith(decoder, change({}, { Keys: { id: { S: '1' } } }))).toMatchObject({
      ok: true,
      invalidation: { keys: ['users:1'] },
      droppedEntries: 1,
    })
    expect(decodeWith(decoder, change())).toEqual({ ok: false, reason: 'empty' })
  })

  it('counts a mapper that throws as a skip, never an exception', () => {
    const decoder = [
      dynamoDbDecoder({
        tables: {
          Users: () => {
            throw new Error('bug')
          },
        },
      }),
    ]
    expect(decodeWith(decoder, change())).toEqual({ ok: false, reason: 'decoder-error' })
  })

  it('never touches a prototype, whatever the attribute names', () => {
    const hostile = new TextEncoder().encode(
      '{"eventSource":"aws:dynamodb","eventName":"INSERT","tableName":"Users","dynamodb":{"Keys":{"__proto__":{"S":"x"},"id":{"S":"1"}}}}',
    )
    let received: Readonly<Record<string, string>> | undefined
    const decoder = [
      dynamoDbDecoder({
        tables: {
          Users: (key) => {
            received = key
            return `users:${key.id}`
          },
        },
      }),
    ]
    expect(decodeWith(decoder, hostile)).toMatchObject({ ok: true })
    expect(Object.getOwnPropertyNames(received)).toEqual(['__proto__', 'id'])
    expect(({} as Record<string, unknown>).S).toBeUndefined()
  })

  it('rejects a table mapper that is not a function when created', () => {
    expect(() => dynamoDbDecoder({ tables: { Users: 'users' as never } })).toThrow(
      /tables.Users must be a function/,
    )
  })
})

describe('a mapper returning { keys, tags }', () => {
  it('invalidates the keys and the tags; invalid ones are dropped and counted', () => {
    const mapped = [
      dynamoDbDecoder({
        tables: {
          Users: ({ id }) => ({ keys: [`users:${id}`], tags: [`user:${id}`, '', 'x'.repeat(257)] }),
        },
      }),
    ]
    expect(decodeWith(mapped, change())).toMatchObject({
      ok: true,
      invalidation: { keys: ['users:42'], prefixes: [], all: false, tags: ['user:42'] },
      droppedEntries: 2,
    })
    const tagOnly = [dynamoDbDecoder({ tables: { Users: ({ id }) => ({ tags: [`user:${id}`] }) } })]
    expect(decodeWith(tagOnly, change())).toMatchObject({
      ok: true,
      invalidation: { keys: [], tags: ['user:42'] },
    })
    const nothing = [dynamoDbDecoder({ tables: { Users: () => ({ tags: [''] }) } })]
    expect(decodeWith(nothing, change())).toEqual({ ok: false, reason: 'empty' })
  })
})
