import { KinesisClient, type PutRecordsCommandInput } from '@aws-sdk/client-kinesis'
import { describe, expect, it } from 'vitest'
import { InvalidKeyError } from '../../../src/errors.js'
import { createPublisher, type Publisher } from '../../../src/publish/index.js'

/** A real client whose PutRecords requests are recorded and acknowledged before anything is sent. */
const recordingPublisher = (): { publisher: Publisher; requests: PutRecordsCommandInput[] } => {
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
  return { publisher: createPublisher({ streamName: 's', client }), requests }
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
    ['null', null, /publish\(\) takes \{ keys\?, prefixes\?, all\? \}/],
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
