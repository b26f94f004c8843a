import type { PutRecordsCommandInput } from '@aws-sdk/client-kinesis'
import { describe, expect, it } from 'vitest'
import { createPublisher, createScache, PublishError } from '../../../src/index.js'
import { countCommands, readInvalidations, useKinesis } from '../../support/kinesis.js'

const kinesis = useKinesis()

describe('replicated streams (kinesalite)', () => {
  it('writers put every invalidation on each replica; each container reads only its own', async () => {
    const names = [await kinesis.createStream(1), await kinesis.createStream(1)]
    const containers = Array.from({ length: 8 }, () => {
      const client = kinesis.client()
      const instance = createScache({
        stream: { names, client },
        pollIntervalMs: 0,
        log: false,
      })
      return { instance, calls: countCommands(client) }
    })
    for (const { instance } of containers) {
      expect(names).toContain(instance.options.streamName)
      instance.cache.set('users:1', 'v1')
      instance.cache.set('users:2', 'v1') // still cached after the writer's own eviction
      ;(await instance.begin()).end()
    }

    // One container writes (its default publisher fans out); every container evicts.
    const since = Date.now()
    const writer = containers[0]?.instance
    const write = await writer?.begin()
    await write?.cache.invalidate('users:1')
    write?.end()
    for (const name of names)
      expect((await readInvalidations(kinesis, name, since)).keys).toEqual(['users:1'])
    for (const { instance, calls } of containers) {
      calls.clear()
      const invocation = await instance.begin()
      expect(invocation.cache.get('users:1')).toBeUndefined()
      // One shard of one stream: one GetRecords, however many replicas exist.
      expect(calls.get('GetRecords')).toBe(1)
      invocation.end()
    }
  })

  it('a publish resolves only when every replica acknowledged it, else names the stream', async () => {
    const names = [await kinesis.createStream(1), await kinesis.createStream(1)]
    const client = kinesis.client({ maxAttempts: 1 })
    const down = names[1]
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const input = args.input as PutRecordsCommandInput
        if (context.commandName === 'PutRecordsCommand' && input.StreamName === down) {
          const error = new Error('injected')
          error.name = 'ServiceUnavailable'
          throw error
        }
        return next(args)
      },
      { step: 'initialize', name: 'scacheTestReplicaDown' },
    )
    const publisher = createPublisher({
      streamNames: names,
      client,
      maxAttempts: 2,
      baseDelayMs: 1,
    })
    const error = await publisher.invalidate(['users:1', 'users:2']).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(PublishError)
    expect(error).toMatchObject({
      failedKeys: ['users:1', 'users:2'],
      failedStreams: [down],
      errorCodes: ['ServiceUnavailable'],
    })
    expect((error as Error).message).toContain(`to ${down}`)

    const healthy = createPublisher({ streamNames: names, client: kinesis.client() })
    expect(await healthy.invalidate('users:3')).toMatchObject({ records: 2 })
  })
})
