import { KinesisClient, type PutRecordsCommandInput } from '@aws-sdk/client-kinesis'
import { describe, expect, it } from 'vitest'
import { InvalidKeyError } from '../../../src/errors.js'
import {
  createPublisher,
  type Publisher,
  type PublisherOptions,
} from '../../../src/publish/index.js'

/** A real client whose PutRecords requests are recorded and acknowledged before anything is sent. */
const recordingPublisher = (
  options: Omit<PublisherOptions, 'streamName' | 'client'> = {},
): { publisher: Publisher; requests: PutRecordsCommandInput[] } => {
  const client = new KinesisClient({ region: 'us-east-1' })
  const requests: PutRecordsCommandInput[] = []
  client.middlewareStack.add(
    (_next) => async (args) => {
      const input = args.input as PutRecordsCommandInput
      requests.push(input)
      const Records = (input.Records ?? []).map((_, i) => ({
        SequenceNumber: String(i + 1),
        ShardId: 'shardId-000000000000',
      }))
      return { output: { Records, FailedRecordCount: 0, $metadata: {} }, response: {} }
    },
    { step: 'initialize' },
  )
  return { publisher: createPublisher({ ...options, streamName: 's', client }), requests }
}

/** What JavaScript callers can pass where the types say otherwise. */
const untyped = <T>(value: unknown): T => value as T

describe('publish() input from JavaScript', () => {
  it.each([
    ['keys as a string', { keys: 'users:42' }, /keys must be an array of strings \(got a string/],
    ['prefixes as a string', { prefixes: 'orders:' }, /prefixes must be an array/],
    ['all as a string', { all: 'true' }, /all must be a boolean \(got "true"\)/],
    ['all as a number', { all: 1 }, /all must be a boolean/],
    ['a misspelt field', { key: ['users:42'] }, /"key" is not a field of an invalidation/],
    ['a keys object', { keys: { 0: 'users:42' } }, /keys must be an array/],
    ['null', null, /publish\(\) takes \{ keys\?, prefixes\?, tags\?, patterns\?, all\? \}/],
    ['tags as a string', { tags: 'user:7' }, /tags must be an array of strings \(got a string/],
    ['an empty tag', { tags: [''] }, /tag "" must not be empty/],
    ['a tag too long', { tags: ['t'.repeat(257)] }, /tag "t+" must be at most 256 characters/],
    ['an empty pattern', { patterns: [''] }, /pattern "" must not be empty/],
    [
      'a pattern of too many segments',
      { patterns: [Array(33).fill('*').join(':')] },
      /must have at most 32 segments/,
    ],
    ['an array', ['users:42'], /got an array/],
    ['a string', 'users:42', /publish\(\) takes/],
    ['a number key', { keys: [42] }, /key 42 must be a string/],
  ])('rejects %s and publishes nothing', async (_, input, message) => {
    const { publisher, requests } = recordingPublisher()
    const error = await publisher.publish(untyped(input)).then(
      () => undefined,
      (reason: unknown) => reason,
    )
    expect(error).toBeInstanceOf(InvalidKeyError)
    expect((error as Error).message).toMatch(message)
    expect(requests).toHaveLength(0)
  })

  it.each([
    ['invalidate', (p: Publisher) => p.invalidate(untyped(42))],
    ['invalidate', (p: Publisher) => p.invalidate(untyped({ keys: ['a'] }))],
    ['invalidatePrefix', (p: Publisher) => p.invalidatePrefix(untyped(undefined))],
    ['invalidateTags', (p: Publisher) => p.invalidateTags(untyped(7))],
    ['invalidatePattern', (p: Publisher) => p.invalidatePattern(untyped(null))],
  ])('%s rejects what is neither a string nor an array', async (name, call) => {
    const { publisher, requests } = recordingPublisher()
    await expect(call(publisher)).rejects.toThrow(
      new RegExp(`${name}\\(\\) takes a string or an array of strings`),
    )
    expect(requests).toHaveLength(0)
  })

  it('still publishes what is well formed: a key, keys, prefixes, all', async () => {
    const { publisher, requests } = recordingPublisher()
    await publisher.invalidate('users:42')
    await publisher.publish({ keys: ['a:1', 'a:1', 'a:2'], prefixes: ['b:'], all: true })
    const data = requests.flatMap((request) =>
      (request.Records ?? []).map((entry) => JSON.parse(Buffer.from(entry.Data ?? []).toString())),
    )
    expect(data.map(({ keys, prefixes, all }) => ({ keys, prefixes, all }))).toEqual([
      { keys: ['users:42'], prefixes: [], all: false },
      { keys: [], prefixes: [], all: true },
      { keys: ['a:1', 'a:2'], prefixes: [], all: false },
      { keys: [], prefixes: ['b:'], all: false },
    ])
  })
})

describe('tags and patterns', () => {
  const recordsOf = (requests: PutRecordsCommandInput[]) =>
    requests.flatMap((request) =>
      (request.Records ?? []).map((entry) => JSON.parse(Buffer.from(entry.Data ?? []).toString())),
    )

  it('go in version 3 records of their own; keys and prefixes stay in older versions', async () => {
    const { publisher, requests } = recordingPublisher()
    await publisher.invalidateTags('user:7')
    await publisher.invalidatePattern(['users:*:profile', 'users:*:profile'])
    await publisher.publish({ keys: ['a:1'], tags: ['t1', 't2'], patterns: ['a:*'] })
    expect(
      recordsOf(requests).map(({ v, keys, prefixes, tags, patterns, all }) => ({
        v,
        keys,
        prefixes,
        tags,
        patterns,
        all,
      })),
    ).toEqual([
      { v: 3, keys: [], prefixes: [], tags: ['user:7'], patterns: [], all: false },
      { v: 3, keys: [], prefixes: [], tags: [], patterns: ['users:*:profile'], all: false },
      { v: 1, keys: ['a:1'], prefixes: [], tags: undefined, patterns: undefined, all: false },
      { v: 3, keys: [], prefixes: [], tags: ['t1', 't2'], patterns: [], all: false },
      { v: 3, keys: [], prefixes: [], tags: [], patterns: ['a:*'], all: false },
    ])
  })

  it('many tags are split within the per-record limits', async () => {
    const { publisher, requests } = recordingPublisher({
      maxKeysPerRecord: 100,
      maxRecordBytes: 8_192,
      secret: 'a-secret-of-enough-length',
    })
    const tags = Array.from({ length: 1_000 }, (_, i) => `tag:${i}:${'x'.repeat(i % 200)}`)
    const result = await publisher.invalidateTags(tags)
    const records = requests.flatMap((request) => request.Records ?? [])
    expect(result.records).toBe(records.length)
    for (const record of records) expect(record.Data?.byteLength).toBeLessThanOrEqual(8_192)
    const published = recordsOf(requests)
    for (const record of published) expect(record.tags.length).toBeLessThanOrEqual(100)
    expect(published.flatMap((record) => record.tags)).toEqual(tags)
  })
})
