import {
  KinesisClient,
  type PutRecordsCommandInput,
  type PutRecordsRequestEntry,
  type PutRecordsResultEntry,
} from '@aws-sdk/client-kinesis'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { InvalidKeyError, PublishError, ScacheOptionsError } from '../../../src/errors.js'
import { createPublisher, type PublisherOptions } from '../../../src/publish/index.js'
import { decodeRecord, type Invalidation, recordLimits } from '../../../src/record/index.js'

const MiB = 1_048_576
const KiB = 1_024

/**
 * What the capturing middleware answers for one entry: success, a Kinesis error code, or a result
 * with neither a sequence number nor an error code.
 */
type Answer = { readonly ok: true } | { readonly errorCode: string } | { readonly blank: true }

interface Captured {
  readonly client: KinesisClient
  /** Input of every PutRecords request the client was asked to send, in order. */
  readonly requests: PutRecordsCommandInput[]
}

/**
 * A real KinesisClient whose PutRecords requests are recorded and answered at the initialize
 * step, before anything is serialized, signed or sent: these tests are about how requests are
 * packed, not about Kinesis. `answer` may return an error code for an entry (fault injection) or
 * throw to fail the whole request; by default every entry is acknowledged.
 */
const capturingClient = (
  answer: (entry: PutRecordsRequestEntry, call: number) => Answer = () => ({ ok: true }),
): Captured => {
  const client = new KinesisClient({ region: 'us-east-1' })
  const requests: PutRecordsCommandInput[] = []
  let sequence = 0
  client.middlewareStack.add(
    (_next, context) => async (args) => {
      if (context.commandName !== 'PutRecordsCommand') {
        throw new Error(`unexpected ${String(context.commandName)}`)
      }
      const input = args.input as PutRecordsCommandInput
      requests.push(input)
      const records: PutRecordsResultEntry[] = (input.Records ?? []).map((entry) => {
        const result = answer(entry, requests.length)
        if ('errorCode' in result) {
          return { ErrorCode: result.errorCode, ErrorMessage: 'injected by the test' }
        }
        if ('blank' in result) return {}
        sequence++
        return { SequenceNumber: String(sequence), ShardId: 'shardId-000000000000' }
      })
      return {
        output: {
          Records: records,
          FailedRecordCount: records.filter((record) => record.ErrorCode !== undefined).length,
          $metadata: {},
        },
        response: {},
      }
    },
    { step: 'initialize', name: 'scacheTestCapturePutRecords', priority: 'high' },
  )
  return { client, requests }
}

const decode = (entry: PutRecordsRequestEntry): Invalidation => {
  const decoded = decodeRecord(entry.Data ?? new Uint8Array())
  if (!decoded.ok) throw new Error(`record did not decode: ${decoded.reason}`)
  return decoded.invalidation
}

const entriesOf = (requests: readonly PutRecordsCommandInput[]): PutRecordsRequestEntry[] =>
  requests.flatMap((request) => request.Records ?? [])

const requestBytes = (request: PutRecordsCommandInput): number =>
  (request.Records ?? []).reduce(
    (sum, entry) =>
      sum + (entry.Data?.byteLength ?? 0) + Buffer.byteLength(entry.PartitionKey ?? ''),
    0,
  )

const keyOf = (index: number, length = 0): string => `users:${index}:`.padEnd(length, 'x')

const keys = (count: number, length = 0): string[] =>
  Array.from({ length: count }, (_, index) => keyOf(index, length))

const injected = (name: string): Error => {
  const error = new Error(`injected ${name}`)
  error.name = name
  return error
}

const rejection = async (promise: Promise<unknown>): Promise<unknown> => {
  try {
    await promise
  } catch (error) {
    return error
  }
  throw new Error('expected the promise to reject')
}

afterEach(() => {
  vi.unstubAllEnvs()
})

describe('createPublisher options', () => {
  const client = new KinesisClient({ region: 'us-east-1' })

  const invalid: readonly [string, Record<string, unknown>, string, RegExp][] = [
    [
      'an unknown option',
      { streamName: 's', maxAttempt: 3 },
      'maxAttempt',
      /not a publisher option/,
    ],
    ['maxAttempts 0', { streamName: 's', maxAttempts: 0 }, 'maxAttempts', /from 1 to 20 \(got 0\)/],
    ['maxAttempts 1.5', { streamName: 's', maxAttempts: 1.5 }, 'maxAttempts', /got 1\.5/],
    [
      'maxRecordBytes too small for the longest escaped key',
      { streamName: 's', maxRecordBytes: 8_191 },
      'maxRecordBytes',
      /from 8192/,
    ],
    ['streamName not a string', { streamName: 42 }, 'streamName', /stream name or ARN/],
    ['client not a client', { streamName: 's', client: {} }, 'client', /KinesisClient/],
    [
      'maxRecordBytes above the Kinesis limit',
      { streamName: 's', maxRecordBytes: recordLimits.maxRecordBytes + 1 },
      'maxRecordBytes',
      /must be an integer/,
    ],
    ['maxKeysPerRecord 0', { streamName: 's', maxKeysPerRecord: 0 }, 'maxKeysPerRecord', /from 1/],
    ['baseDelayMs a string', { streamName: 's', baseDelayMs: '5' }, 'baseDelayMs', /integer/],
  ]

  it.each(invalid)('rejects %s', (_, options, option, why) => {
    let error: unknown
    try {
      createPublisher({ client, ...options } as PublisherOptions)
    } catch (caught) {
      error = caught
    }
    expect(error).toBeInstanceOf(ScacheOptionsError)
    const optionsError = error as ScacheOptionsError
    expect(optionsError.option).toBe(option)
    expect(optionsError.message).toMatch(why)
    expect(optionsError.cause).toEqual({ package: 'scache', option })
  })

  it('requires a stream name when SCACHE_STREAM_NAME is unset', () => {
    vi.stubEnv('SCACHE_STREAM_NAME', undefined)
    for (const options of [{ client }, { client, streamName: '' }]) {
      expect(() => createPublisher(options)).toThrow(ScacheOptionsError)
      try {
        createPublisher(options)
      } catch (error) {
        expect((error as ScacheOptionsError).option).toBe('streamName')
      }
    }
    expect(() => createPublisher()).toThrow(/streamName/)
  })

  it('takes the stream name from SCACHE_STREAM_NAME', async () => {
    vi.stubEnv('SCACHE_STREAM_NAME', 'from-env')
    const { client: capturing, requests } = capturingClient()
    await createPublisher({ client: capturing }).invalidate('users:1')
    expect(requests.map((request) => request.StreamName)).toEqual(['from-env'])
  })

  it('addresses a stream ARN as StreamARN', async () => {
    const arn = 'arn:aws:kinesis:us-east-1:123456789012:stream/s'
    const { client: capturing, requests } = capturingClient()
    await createPublisher({ streamName: arn, client: capturing }).invalidate('users:1')
    expect(requests[0]).toMatchObject({ StreamARN: arn })
    expect(requests[0]?.StreamName).toBeUndefined()
  })
})

describe('invalid keys', () => {
  it.each([
    ['an empty key', ''],
    ['a key of 1,025 characters', 'k'.repeat(recordLimits.maxKeyLength + 1)],
  ])('invalidate rejects %s before sending anything', async (_, key) => {
    const { client, requests } = capturingClient()
    const publisher = createPublisher({ streamName: 's', client })
    await expect(publisher.invalidate(key)).rejects.toThrow(InvalidKeyError)
    await expect(publisher.invalidate(['users:1', key])).rejects.toThrow(InvalidKeyError)
    await expect(publisher.invalidatePrefix(key)).rejects.toThrow(InvalidKeyError)
    expect(requests).toHaveLength(0)
  })

  it('accepts a key of exactly 1,024 characters', async () => {
    const { client, requests } = capturingClient()
    const key = 'k'.repeat(recordLimits.maxKeyLength)
    await createPublisher({ streamName: 's', client }).invalidate(key)
    expect(entriesOf(requests).map(decode)).toEqual([{ keys: [key], prefixes: [], all: false }])
  })

  it('fits the longest key, fully JSON-escaped, in the smallest allowed record', async () => {
    const { client, requests } = capturingClient()
    const keys = [
      '\u0001'.repeat(recordLimits.maxKeyLength),
      '\u0002'.repeat(recordLimits.maxKeyLength),
    ]
    await createPublisher({ streamName: 's', client, maxRecordBytes: 8_192 }).invalidate(keys)
    const entries = entriesOf(requests)
    expect(entries).toHaveLength(2)
    for (const entry of entries) expect(entry.Data?.byteLength).toBeLessThanOrEqual(8_192)
    expect(entries.flatMap((entry) => decode(entry).keys)).toEqual(keys)
  })
})

describe('packing', () => {
  it('packs 3,000 keys into 3 records of 1,000 sent in 1 request', async () => {
    const { client, requests } = capturingClient()
    const given = keys(3_000)
    const result = await createPublisher({
      streamName: 's',
      client,
      maxKeysPerRecord: 1_000,
    }).invalidate(given)

    expect(requests).toHaveLength(1)
    const records = entriesOf(requests).map(decode)
    expect(records).toHaveLength(3)
    for (const record of records) {
      expect(record.keys.length).toBeLessThanOrEqual(1_000)
      expect(record.prefixes).toEqual([])
      expect(record.all).toBe(false)
    }
    const sent = records.flatMap((record) => record.keys)
    expect(sent).toHaveLength(given.length)
    expect(new Set(sent)).toEqual(new Set(given))
    expect(result).toMatchObject({ records: 3, requests: 1, retriedEntries: 0 })
    // Where each record went, as Kinesis acknowledged it.
    expect(result.acknowledged).toEqual(
      ['1', '2', '3'].map((sequenceNumber) => ({
        stream: 's',
        shardId: 'shardId-000000000000',
        sequenceNumber,
      })),
    )
  })

  it('keeps records within 256 KiB and requests within PutRecords limits', async () => {
    const { client, requests } = capturingClient()
    const given = keys(2_000, 1_000)
    const result = await createPublisher({ streamName: 's', client }).invalidate(given)

    const entries = entriesOf(requests)
    expect(entries.length).toBeGreaterThan(1)
    for (const entry of entries) {
      expect(entry.Data?.byteLength).toBeLessThanOrEqual(256 * KiB)
    }
    for (const request of requests) {
      expect(request.Records?.length).toBeLessThanOrEqual(500)
      expect(requestBytes(request)).toBeLessThanOrEqual(5 * MiB)
    }
    const sent = entries.map(decode).flatMap((record) => record.keys)
    expect(sent).toHaveLength(given.length)
    expect(new Set(sent)).toEqual(new Set(given))
    expect(result).toMatchObject({
      records: entries.length,
      requests: requests.length,
      retriedEntries: 0,
    })
    expect(result.acknowledged).toHaveLength(entries.length)
  })

  it('splits records of up to 1 MiB over requests of at most 5 MiB', async () => {
    const { client, requests } = capturingClient()
    const given = keys(6_000, 1_000)
    const result = await createPublisher({
      streamName: 's',
      client,
      maxRecordBytes: recordLimits.maxRecordBytes,
    }).invalidate(given)

    // About 6 MB of keys cannot fit one request.
    expect(requests.length).toBeGreaterThan(1)
    for (const request of requests) {
      expect(requestBytes(request)).toBeLessThanOrEqual(5 * MiB)
      for (const entry of request.Records ?? []) {
        const bytes = (entry.Data?.byteLength ?? 0) + Buffer.byteLength(entry.PartitionKey ?? '')
        expect(bytes).toBeLessThanOrEqual(MiB)
      }
    }
    const sent = entriesOf(requests)
      .map(decode)
      .flatMap((record) => record.keys)
    expect(sent).toHaveLength(given.length)
    expect(new Set(sent)).toEqual(new Set(given))
    expect(result.requests).toBe(requests.length)
  })

  it('sends 600 records as 2 requests of 500 and 100', async () => {
    const { client, requests } = capturingClient()
    const given = keys(600)
    const result = await createPublisher({
      streamName: 's',
      client,
      maxKeysPerRecord: 1,
    }).invalidate(given)

    expect(requests.map((request) => request.Records?.length)).toEqual([500, 100])
    const records = entriesOf(requests).map(decode)
    expect(records.every((record) => record.keys.length === 1)).toBe(true)
    expect(records.map((record) => record.keys[0])).toEqual(given)
    expect(result).toMatchObject({ records: 600, requests: 2, retriedEntries: 0 })
    expect(result.acknowledged).toHaveLength(600)
  })

  it('gives every record its own random partition key', async () => {
    const { client, requests } = capturingClient()
    await createPublisher({ streamName: 's', client, maxKeysPerRecord: 1 }).invalidate(keys(20))
    const partitionKeys = entriesOf(requests).map((entry) => entry.PartitionKey)
    expect(partitionKeys).toHaveLength(20)
    expect(new Set(partitionKeys).size).toBe(20)
  })

  it('deduplicates keys and prefixes', async () => {
    const { client, requests } = capturingClient()
    const publisher = createPublisher({ streamName: 's', client })
    const result = await publisher.invalidate(['users:1', 'users:2', 'users:1', 'users:2'])
    const records = entriesOf(requests).map(decode)
    expect(records).toEqual([{ keys: ['users:1', 'users:2'], prefixes: [], all: false }])
    expect(result).toMatchObject({ records: 1, requests: 1, retriedEntries: 0 })

    await publisher.invalidatePrefix(['orders:', 'orders:'])
    expect(entriesOf(requests.slice(1)).map(decode)).toEqual([
      { keys: [], prefixes: ['orders:'], all: false },
    ])
  })

  it('invalidatePrefix publishes prefixes', async () => {
    const { client, requests } = capturingClient()
    const result = await createPublisher({ streamName: 's', client }).invalidatePrefix([
      'orders:',
      'carts:',
    ])
    expect(entriesOf(requests).map(decode)).toEqual([
      { keys: [], prefixes: ['orders:', 'carts:'], all: false },
    ])
    expect(result).toMatchObject({ records: 1, requests: 1, retriedEntries: 0 })
  })

  it('invalidateAll publishes one invalidate-all record', async () => {
    const { client, requests } = capturingClient()
    const before = Date.now()
    const result = await createPublisher({ streamName: 's', client }).invalidateAll()
    const after = Date.now()
    const entries = entriesOf(requests)
    expect(entries.map(decode)).toEqual([{ keys: [], prefixes: [], all: true }])
    const raw = JSON.parse(new TextDecoder().decode(entries[0]?.Data)) as Record<string, unknown>
    expect(raw.v).toBe(1)
    expect(raw.at).toBeGreaterThanOrEqual(before)
    expect(raw.at).toBeLessThanOrEqual(after)
    expect(result).toMatchObject({ records: 1, requests: 1, retriedEntries: 0 })
  })

  it('publish combines keys, prefixes and all in separate records', async () => {
    const { client, requests } = capturingClient()
    const result = await createPublisher({ streamName: 's', client }).publish({
      keys: ['users:1'],
      prefixes: ['orders:'],
      all: true,
    })
    const records = entriesOf(requests).map(decode)
    expect(records).toHaveLength(3)
    expect(records).toContainEqual({ keys: [], prefixes: [], all: true })
    expect(records).toContainEqual({ keys: ['users:1'], prefixes: [], all: false })
    expect(records).toContainEqual({ keys: [], prefixes: ['orders:'], all: false })
    expect(result).toMatchObject({ records: 3, requests: 1, retriedEntries: 0 })
  })

  it('sends nothing for an empty invalidation', async () => {
    const { client, requests } = capturingClient()
    const publisher = createPublisher({ streamName: 's', client })
    expect(await publisher.invalidate([])).toEqual({
      records: 0,
      requests: 0,
      retriedEntries: 0,
      acknowledged: [],
    })
    expect(await publisher.publish({})).toEqual({
      records: 0,
      requests: 0,
      retriedEntries: 0,
      acknowledged: [],
    })
    expect(requests).toHaveLength(0)
  })
})

describe('retries (fault injection)', () => {
  const fast = { streamName: 's', maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 1 }

  it('retries entries Kinesis failed and counts them in retriedEntries', async () => {
    const failFirst = new Set([keyOf(1), keyOf(3)])
    const { client, requests } = capturingClient((entry, call) =>
      call === 1 && decode(entry).keys.some((key) => failFirst.has(key))
        ? { errorCode: 'ProvisionedThroughputExceededException' }
        : { ok: true },
    )
    const given = keys(5)
    const result = await createPublisher({ ...fast, client, maxKeysPerRecord: 1 }).invalidate(given)

    expect(requests).toHaveLength(2)
    expect(requests[0]?.Records).toHaveLength(given.length)
    // Only the failed entries, byte for byte, are sent again.
    const retried = requests[1]?.Records ?? []
    expect(new Set(retried.flatMap((entry) => decode(entry).keys))).toEqual(failFirst)
    const firstByPartitionKey = new Map(
      (requests[0]?.Records ?? []).map((entry) => [entry.PartitionKey, entry.Data]),
    )
    for (const entry of retried) {
      expect(firstByPartitionKey.get(entry.PartitionKey)).toEqual(entry.Data)
    }
    expect(result).toMatchObject({
      records: given.length,
      requests: 2,
      retriedEntries: failFirst.size,
    })
    // Acknowledged once each: on the first attempt or on the retry.
    expect(result.acknowledged).toHaveLength(given.length)
  })

  it('rejects with PublishError naming only the keys of records that always failed', async () => {
    const poisoned = keyOf(2)
    const failingKeys = new Set<string>()
    const { client, requests } = capturingClient((entry) => {
      const { keys: recordKeys } = decode(entry)
      if (!recordKeys.includes(poisoned)) return { ok: true }
      for (const key of recordKeys) failingKeys.add(key)
      return { errorCode: 'ProvisionedThroughputExceededException' }
    })
    const given = keys(6)
    const error = await rejection(
      createPublisher({ ...fast, client, maxKeysPerRecord: 2 }).invalidate(given),
    )

    expect(error).toBeInstanceOf(PublishError)
    const publishError = error as PublishError
    expect(failingKeys.size).toBeGreaterThan(0)
    expect(failingKeys.size).toBeLessThan(given.length)
    expect([...publishError.failedKeys].sort()).toEqual([...failingKeys].sort())
    for (const key of given.filter((key) => !failingKeys.has(key))) {
      expect(publishError.failedKeys).not.toContain(key)
    }
    expect(publishError.failedPrefixes).toEqual([])
    expect(publishError.failedAll).toBe(false)
    expect(publishError.errorCodes).toContain('ProvisionedThroughputExceededException')
    expect(publishError.message).toContain(JSON.stringify(poisoned))
    // One request per attempt: the first with every record, then only the failing one.
    expect(requests).toHaveLength(fast.maxAttempts)
    for (const request of requests) {
      expect(request.Records?.some((entry) => decode(entry).keys.includes(poisoned))).toBe(true)
    }
    for (const request of requests.slice(1)) expect(request.Records).toHaveLength(1)
  })

  it('reports a failed invalidate-all and failed prefixes', async () => {
    const { client, requests } = capturingClient((entry) =>
      decode(entry).keys.length === 0 ? { errorCode: 'InternalFailure' } : { ok: true },
    )
    const error = await rejection(
      createPublisher({ ...fast, client }).publish({
        keys: ['users:1'],
        prefixes: ['orders:'],
        all: true,
      }),
    )
    expect(error).toBeInstanceOf(PublishError)
    const publishError = error as PublishError
    expect(publishError.failedAll).toBe(true)
    expect(publishError.failedPrefixes).toEqual(['orders:'])
    expect(publishError.failedKeys).toEqual([])
    expect(publishError.errorCodes).toEqual(['InternalFailure'])
    expect(requests).toHaveLength(fast.maxAttempts)
  })

  it('treats an entry acknowledged without a sequence number as failed', async () => {
    const { client } = capturingClient(() => ({ blank: true }))
    const error = await rejection(createPublisher({ ...fast, client }).invalidate('users:1'))
    expect(error).toBeInstanceOf(PublishError)
    expect((error as PublishError).failedKeys).toEqual(['users:1'])
    expect((error as PublishError).errorCodes).toEqual(['MissingResult'])
  })

  it('retries a request that throws as a whole', async () => {
    const { client, requests } = capturingClient((_, call) => {
      if (call === 1) throw injected('InternalFailure')
      return { ok: true }
    })
    const given = keys(4)
    const result = await createPublisher({ ...fast, client, maxKeysPerRecord: 1 }).invalidate(given)

    expect(requests).toHaveLength(2)
    expect(requests[1]?.Records).toEqual(requests[0]?.Records)
    expect(result).toMatchObject({
      records: given.length,
      requests: 2,
      retriedEntries: given.length,
    })
  })

  it('rejects after maxAttempts requests that throw, with the error as cause', async () => {
    const { client, requests } = capturingClient(() => {
      throw injected('InternalFailure')
    })
    const error = await rejection(
      createPublisher({ ...fast, client }).invalidate(['users:1', 'users:2']),
    )
    expect(error).toBeInstanceOf(PublishError)
    const publishError = error as PublishError
    expect([...publishError.failedKeys].sort()).toEqual(['users:1', 'users:2'])
    expect(publishError.errorCodes).toEqual(['InternalFailure'])
    expect(publishError.cause).toBeInstanceOf(Error)
    expect((publishError.cause as Error).name).toBe('InternalFailure')
    expect(requests).toHaveLength(fast.maxAttempts)
  })
})
