import { describe, expect, it } from 'vitest'
import {
  createPublisher,
  dynamoDbDecoder,
  encodeRecord,
  type Invalidation,
  type PollResult,
  type RecordDecoder,
  type SkippedRecord,
  StreamReader,
  type StreamReaderOptions,
} from '../../../src/index.js'
import { useKinesis } from '../../support/kinesis.js'

const kinesis = useKinesis()

const SECRET = 'correct-horse-battery-staple'

/** `{"a":[[[[…]]]]}`: an object nested `depth` deep, about 2 bytes a level. */
const nested = (depth: number): string => `{"v":1,"keys":${'['.repeat(depth)}${']'.repeat(depth)}}`

const newReader = (stream: string, options: Partial<StreamReaderOptions> = {}) =>
  new StreamReader({
    stream,
    client: kinesis.client(),
    clockSkewMs: 5_000,
    maxPagesPerShard: 5,
    ...options,
  })

interface Polled {
  readonly result: PollResult
  readonly applied: Invalidation[]
  readonly skipped: SkippedRecord[]
}

const poll = async (
  reader: StreamReader,
  options: { apply?: (invalidation: Invalidation) => void; signal?: AbortSignal } = {},
): Promise<Polled> => {
  const applied: Invalidation[] = []
  const skipped: SkippedRecord[] = []
  const result = await reader.poll({
    apply: (invalidation) => {
      options.apply?.(invalidation)
      applied.push(invalidation)
    },
    onSkip: (skip) => skipped.push(skip),
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  })
  return { result, applied, skipped }
}

describe('no record can stop a shard (kinesalite)', () => {
  it('a 300,000-deep unsigned record is a counted skip; signed invalidations after it apply', async () => {
    const stream = await kinesis.createStream(1)
    const reader = newReader(stream, { secrets: [SECRET] })
    await poll(reader)
    // JSON.stringify of this record's fields overflowed the stack in signature verification.
    await kinesis.putRaw(stream, nested(300_000))
    const publisher = createPublisher({
      streamName: stream,
      client: kinesis.client(),
      secret: SECRET,
    })
    await publisher.invalidate('users:1')
    await publisher.invalidatePrefix('orders:')
    const { result, applied, skipped } = await poll(reader)
    expect(result.errors).toEqual([])
    expect(result.ok).toBe(true)
    expect(result.records).toBe(3)
    expect(skipped.map((skip) => skip.reason)).toEqual(['too-deep'])
    expect(applied).toEqual([
      { keys: ['users:1'], prefixes: [], all: false },
      { keys: [], prefixes: ['orders:'], all: false },
    ])
    // And the position moved past it for good.
    await publisher.invalidate('users:2')
    const next = await poll(reader)
    expect(next.result.records).toBe(1)
    expect(next.applied).toEqual([{ keys: ['users:2'], prefixes: [], all: false }])
  })

  it('an apply that throws is a counted skip, followed by an invalidate-all; the shard moves on', async () => {
    const stream = await kinesis.createStream(1)
    const reader = newReader(stream)
    await poll(reader)
    const publisher = createPublisher({ streamName: stream, client: kinesis.client() })
    await publisher.invalidate('boom:1')
    await publisher.invalidate('users:1')
    const { result, applied, skipped } = await poll(reader, {
      apply: (invalidation) => {
        if (invalidation.keys.includes('boom:1')) throw new Error('apply failed')
      },
    })
    expect(result.ok).toBe(true)
    expect(result.skippedRecords).toBe(1)
    expect(skipped.map((skip) => skip.reason)).toEqual(['apply-error'])
    // The failed record's invalidation is not lost: everything is evicted instead.
    expect(applied).toEqual([
      { keys: [], prefixes: [], all: true },
      { keys: ['users:1'], prefixes: [], all: false },
    ])
  })

  it('a decoder that throws, and callbacks that throw, do not stop the shard', async () => {
    const stream = await kinesis.createStream(1)
    const throwing: RecordDecoder = {
      name: 'throwing',
      decode: (record) => {
        if (new TextDecoder().decode(record.data).includes('boom')) throw new RangeError('boom')
        return undefined
      },
    }
    const reader = newReader(stream, { decoders: [throwing] })
    await poll(reader)
    const publisher = createPublisher({ streamName: stream, client: kinesis.client() })
    await publisher.invalidate('boom:1')
    await publisher.invalidate('users:1')
    const applied: Invalidation[] = []
    const result = await reader.poll({
      apply: (invalidation) => applied.push(invalidation),
      onSkip: () => {
        throw new Error('onSkip failed')
      },
      onRecord: () => {
        throw new Error('onRecord failed')
      },
    })
    expect(result.ok).toBe(true)
    expect(result.skippedRecords).toBe(1)
    expect(applied).toEqual([{ keys: ['users:1'], prefixes: [], all: false }])
  })
})

describe('the poll budget bounds CPU as well as calls (kinesalite)', () => {
  /** A decoder that burns `ms` of CPU on every record, as parsing a large record does. */
  const slowDecoder = (ms: number): RecordDecoder => ({
    name: 'slow',
    decode: () => {
      const until = performance.now() + ms
      while (performance.now() < until) {
        // Busy: no timer fires meanwhile.
      }
      return undefined
    },
  })

  it('stops between records when the budget is spent; the rest is read next poll, none lost', async () => {
    const stream = await kinesis.createStream(1)
    const reader = newReader(stream, { decoders: [slowDecoder(40)] })
    await poll(reader)
    const publisher = createPublisher({ streamName: stream, client: kinesis.client() })
    const keys = Array.from({ length: 8 }, (_, i) => `users:${i}`)
    for (const key of keys) await publisher.invalidate(key)

    const seen: string[] = []
    let polls = 0
    let stoppedMidway = false
    while (seen.length < keys.length && polls < 20) {
      polls++
      const budget = new AbortController()
      const timer = setTimeout(() => budget.abort(), 100)
      const { result, applied } = await poll(reader, { signal: budget.signal })
      clearTimeout(timer)
      for (const invalidation of applied) seen.push(...invalidation.keys)
      if (applied.length < keys.length && !result.ok) {
        stoppedMidway = true
        expect(result.errors[0]?.name).toBe('AbortError')
      }
    }
    // 8 records × 40 ms of decoding cannot fit a 100 ms budget: some poll stopped midway...
    expect(stoppedMidway).toBe(true)
    // ...and every record was applied exactly once, in order, by the polls that followed.
    expect(seen).toEqual(keys)
  })
})

describe('every record Kinesis can deliver is read (kinesalite)', () => {
  /** A DynamoDB change record padded (in its NewImage) to `bytes`. */
  const changeRecord = (id: string, bytes: number): string => {
    const base = {
      eventID: 'e1',
      eventName: 'MODIFY',
      eventSource: 'aws:dynamodb',
      tableName: 'users',
      awsRegion: 'us-east-1',
      dynamodb: {
        ApproximateCreationDateTime: Date.now(),
        Keys: { id: { S: id } },
        NewImage: { id: { S: id }, blob: { S: '' } },
        SizeBytes: bytes,
      },
    }
    const empty = JSON.stringify(base).length
    base.dynamodb.NewImage.blob.S = 'x'.repeat(bytes - empty)
    return JSON.stringify(base)
  }

  it('a 1,048,536-byte DynamoDB change record is applied, not skipped as too large', async () => {
    const stream = await kinesis.createStream(1)
    const decoder = dynamoDbDecoder({ tables: { users: ({ id }) => `users:${id}` } })
    const reader = newReader(stream, { decoders: [decoder] })
    await poll(reader)
    const data = changeRecord('42', 1_048_536)
    expect(Buffer.byteLength(data)).toBe(1_048_536)
    await kinesis.putRaw(stream, data, 'p'.repeat(40))
    const { result, applied, skipped } = await poll(reader)
    expect(result.ok).toBe(true)
    expect(skipped).toEqual([])
    expect(applied).toEqual([{ keys: ['users:42'], prefixes: [], all: false }])
  })

  it('a record that cannot be read (too deep to parse) clears instead of being skipped', async () => {
    const stream = await kinesis.createStream(1)
    const decoder = dynamoDbDecoder({ tables: { users: ({ id }) => `users:${id}` } })
    // With a decoder, a record too deep to parse might be one of its records: clear.
    const reader = newReader(stream, { decoders: [decoder], secrets: [SECRET] })
    await poll(reader)
    await kinesis.putRaw(stream, `{"eventSource":"aws:dynamodb","x":${nested(1_000)}}`)
    const { result, applied, skipped } = await poll(reader)
    expect(result.ok).toBe(true)
    expect(skipped).toEqual([])
    expect(applied).toEqual([{ keys: [], prefixes: [], all: true }])
  })
})

describe('signed records are bound to their stream and their time (kinesalite)', () => {
  it('a record copied to another stream sharing the secret does not verify there', async () => {
    const [a, b] = [await kinesis.createStream(1), await kinesis.createStream(1)]
    const readerA = newReader(a, { secrets: [SECRET] })
    const readerB = newReader(b, { secrets: [SECRET] })
    await Promise.all([poll(readerA), poll(readerB)])
    // One publisher to both replicas: each verifies its own copy.
    const publisher = createPublisher({
      streamNames: [a, b],
      client: kinesis.client(),
      secret: SECRET,
    })
    await publisher.invalidateAll()
    const [fromA, fromB] = await Promise.all([poll(readerA), poll(readerB)])
    expect(fromA.applied).toEqual([{ keys: [], prefixes: [], all: true }])
    expect(fromB.applied).toEqual([{ keys: [], prefixes: [], all: true }])
    // A's record, copied byte for byte onto B by a writer without the secret, is refused.
    const record = encodeRecord({ keys: [], prefixes: [], all: true }, Date.now(), SECRET, a)
    await kinesis.putRaw(b, record)
    const copied = await poll(readerB)
    expect(copied.applied).toEqual([])
    expect(copied.skipped.map((skip) => skip.reason)).toEqual(['bad-signature'])
  })

  it('a signed record put again later is refused by its age; one from the future too', async () => {
    const stream = await kinesis.createStream(1)
    const reader = newReader(stream, { secrets: [SECRET] })
    await poll(reader)
    const all = { keys: [], prefixes: [], all: true }
    // Copied off the stream two minutes after it was signed.
    await kinesis.putRaw(stream, encodeRecord(all, Date.now() - 120_000, SECRET, stream))
    // The previous (unbound) signature format: accepted, but only within the same window.
    await kinesis.putRaw(stream, encodeRecord(all, Date.now() - 120_000, SECRET))
    await kinesis.putRaw(stream, encodeRecord(all, Date.now() + 120_000, SECRET, stream))
    await kinesis.putRaw(
      stream,
      encodeRecord({ ...all, all: false, keys: ['a:1'] }, Date.now(), SECRET),
    )
    await kinesis.putRaw(
      stream,
      encodeRecord({ ...all, all: false, keys: ['a:2'] }, Date.now(), SECRET, stream),
    )
    const { applied, skipped } = await poll(reader)
    expect(skipped.map((skip) => skip.reason)).toEqual(['stale', 'stale', 'stale'])
    expect(applied).toEqual([
      { keys: ['a:1'], prefixes: [], all: false },
      { keys: ['a:2'], prefixes: [], all: false },
    ])
  })
})
