import { describe, expect, it } from 'vitest'
import { createPublisher, decodeRecord, PublishError } from '../../../src/index.js'
import {
  failCommand,
  failPutRecordsEntries,
  readInvalidations,
  useKinesis,
} from '../../support/kinesis.js'

const kinesis = useKinesis()

const keysOnStream = async (stream: string, since: number): Promise<string[]> => {
  const { result, keys } = await readInvalidations(kinesis, stream, since)
  expect(result.ok).toBe(true)
  return keys
}

const keysOf = (data: Uint8Array | undefined): readonly string[] => {
  const decoded = decodeRecord(data ?? new Uint8Array())
  return decoded.ok ? decoded.invalidation.keys : []
}

describe('publisher (kinesalite)', () => {
  it('retries entries a PutRecords partially failed, and every key reaches the stream', async () => {
    const stream = await kinesis.createStream(2)
    const since = Date.now() - 1_000
    const client = kinesis.client()
    // The first call fails every other record; later calls go through.
    let index = 0
    failPutRecordsEntries(client, (_entry, call) => call === 1 && index++ % 2 === 0)
    const keys = Array.from({ length: 50 }, (_, i) => `users:${i}`)
    const result = await createPublisher({
      streamName: stream,
      client,
      maxKeysPerRecord: 5,
      baseDelayMs: 1,
    }).invalidate(keys)
    expect(result).toMatchObject({ records: 10, requests: 2, retriedEntries: 5 })
    expect(await keysOnStream(stream, since)).toEqual([...keys].sort())
  })

  it('rejects naming exactly the keys that were never acknowledged; the rest are published', async () => {
    const stream = await kinesis.createStream(1)
    const since = Date.now() - 1_000
    const client = kinesis.client()
    failPutRecordsEntries(client, (entry) => keysOf(entry.Data).includes('users:poison'))
    const keys = ['users:1', 'users:2', 'users:poison', 'users:3', 'users:4']
    const publisher = createPublisher({
      streamName: stream,
      client,
      maxKeysPerRecord: 2,
      maxAttempts: 3,
      baseDelayMs: 1,
    })

    const error = await publisher.invalidate(keys).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(PublishError)
    const publishError = error as PublishError
    // Keys travel two to a record: the poisoned record also carried users:3.
    expect([...publishError.failedKeys].sort()).toEqual(['users:3', 'users:poison'])
    expect(publishError.errorCodes).toEqual(['ProvisionedThroughputExceededException'])
    expect(publishError.message).toContain('"users:poison"')
    expect(await keysOnStream(stream, since)).toEqual(['users:1', 'users:2', 'users:4'])
  })

  it('retries a request that failed as a whole, and gives up after maxAttempts naming every key', async () => {
    const stream = await kinesis.createStream(1)
    const since = Date.now() - 1_000
    const client = kinesis.client()
    let failures = 1
    failCommand(client, 'PutRecords', 'InternalFailure', () => failures-- > 0)
    await createPublisher({ streamName: stream, client, baseDelayMs: 1 }).invalidate(['users:1'])
    expect(await keysOnStream(stream, since)).toEqual(['users:1'])

    const down = kinesis.client()
    let attempts = 0
    failCommand(down, 'PutRecords', 'InternalFailure', () => ++attempts > 0)
    const error = await createPublisher({
      streamName: stream,
      client: down,
      maxAttempts: 4,
      baseDelayMs: 1,
    })
      .invalidatePrefix(['orders:', 'carts:'])
      .catch((e: unknown) => e as PublishError)
    expect(attempts).toBe(4)
    expect(error).toBeInstanceOf(PublishError)
    expect((error as PublishError).failedPrefixes).toEqual(['orders:', 'carts:'])
    expect((error as PublishError).cause).toBeInstanceOf(Error)
  })
})
