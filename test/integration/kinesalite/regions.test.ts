import { createServer, type Server, type Socket } from 'node:net'
import type { KinesisClient } from '@aws-sdk/client-kinesis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createPublisher, createScache, PublishError } from '../../../src/index.js'
import { createDefaultClient } from '../../../src/stream/client.js'
import { type LocalKinesis, readInvalidations, startKinesis } from '../../support/kinesis.js'

// Two kinesalite instances stand for the streams of two regions, each reached by its own client.
let europe: LocalKinesis
let america: LocalKinesis
beforeAll(async () => {
  ;[europe, america] = await Promise.all([startKinesis(), startKinesis()])
})
afterAll(() => Promise.all([europe.close(), america.close()]))

/** A client like scache's default one, for an endpoint that is not a Kinesis at all. */
const clientAt = (port: number, region: string): KinesisClient =>
  createDefaultClient(
    { maxAttempts: 1, requestTimeoutMs: 60_000 },
    {
      endpoint: `http://127.0.0.1:${port}`,
      region,
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    },
  )

const listen = async (server: Server): Promise<number> => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('no port')
  return address.port
}

/** A port nothing listens on: connections are refused. */
const closedPort = async (): Promise<number> => {
  const server = createServer()
  const port = await listen(server)
  await new Promise((resolve) => server.close(resolve))
  return port
}

/** A container of one region: reads its region's stream, publishes through `publisher`. */
const container = (
  kinesis: LocalKinesis,
  stream: string,
  publisher?: ReturnType<typeof createPublisher>,
) =>
  createScache({
    stream: { name: stream, client: kinesis.client() },
    pollIntervalMs: 0,
    log: false,
    ...(publisher === undefined ? {} : { publisher }),
  })

describe('a publisher with streams in two regions (two kinesalites)', () => {
  it('puts every invalidation in each region; the containers of both evict', async () => {
    const [west, east] = await Promise.all([europe.createStream(2), america.createStream(1)])
    const publisher = createPublisher({
      streams: [
        { name: west, region: 'eu-west-1', client: europe.client({ maxAttempts: 3 }) },
        { name: east, region: 'us-east-1', client: america.client({ maxAttempts: 3 }) },
      ],
    })
    const containers = [container(europe, west), container(america, east)]
    for (const instance of containers) {
      instance.cache.set('users:1', 'v1')
      instance.cache.set('users:2', 'v1')
      ;(await instance.begin()).end()
    }

    const result = await publisher.invalidate('users:1')
    expect(result.records).toBe(2)
    expect(result.acknowledged.map(({ stream, region }) => [stream, region]).sort()).toEqual(
      [
        [west, 'eu-west-1'],
        [east, 'us-east-1'],
      ].sort(),
    )
    for (const instance of containers) {
      const invocation = await instance.begin()
      expect(invocation.cache.get('users:1')).toBeUndefined()
      expect(invocation.cache.get('users:2')).toBe('v1')
      invocation.end()
    }
  })

  it("context.cache.invalidate goes through the middleware's publisher to every region", async () => {
    const [west, east] = await Promise.all([europe.createStream(1), america.createStream(1)])
    const publisher = createPublisher({
      streams: [
        { name: west, region: 'eu-west-1', client: europe.client({ maxAttempts: 3 }) },
        { name: east, region: 'us-east-1', client: america.client({ maxAttempts: 3 }) },
      ],
    })
    const writer = container(europe, west, publisher)
    const reader = container(america, east)
    for (const instance of [writer, reader]) {
      instance.cache.set('users:7', 'v1')
      ;(await instance.begin()).end()
    }
    const since = Date.now() - 1_000
    const write = await writer.begin()
    await write.cache.invalidate('users:7')
    write.end()
    expect((await readInvalidations(america, east, since)).keys).toEqual(['users:7'])
    const read = await reader.begin()
    expect(read.cache.get('users:7')).toBeUndefined()
    read.end()
  })

  it('a region refusing connections: PublishError names it; the other region has the record', async () => {
    const west = await europe.createStream(1)
    const port = await closedPort()
    const publisher = createPublisher({
      streams: [
        { name: west, region: 'eu-west-1', client: europe.client({ maxAttempts: 3 }) },
        { name: 'down', region: 'ap-south-1', client: clientAt(port, 'ap-south-1') },
      ],
      maxAttempts: 2,
      baseDelayMs: 1,
    })
    const since = Date.now() - 1_000
    const error = await publisher.invalidate(['users:1', 'users:2']).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(PublishError)
    expect(error).toMatchObject({
      failedKeys: ['users:1', 'users:2'],
      failedStreams: ['down'],
      failedRegions: ['ap-south-1'],
    })
    expect((error as PublishError).errorCodes).not.toEqual([])
    expect((error as Error).message).toContain('to down in ap-south-1')
    expect((await readInvalidations(europe, west, since)).keys).toEqual(['users:1', 'users:2'])

    // One stream alone: its error is the publish's, and names the region too.
    const alone = createPublisher({
      streams: [{ name: 'down', region: 'ap-south-1', client: clientAt(port, 'ap-south-1') }],
      maxAttempts: 1,
    })
    expect(await alone.invalidate('users:1').catch((e: unknown) => e)).toMatchObject({
      failedStreams: ['down'],
      failedRegions: ['ap-south-1'],
    })
  })

  it('a region that never answers: the publish deadline holds, and names the region', async () => {
    const sockets = new Set<Socket>()
    // Accepts connections and reads requests, never answers: a hung endpoint.
    const hanging = createServer((socket) => {
      sockets.add(socket)
      socket.on('data', () => {})
    })
    const port = await listen(hanging)
    try {
      const west = await europe.createStream(1)
      const timeoutMs = 1_000
      const publisher = createPublisher({
        streams: [
          { name: west, region: 'eu-west-1', client: europe.client({ maxAttempts: 3 }) },
          { name: 'hung', region: 'ap-south-1', client: clientAt(port, 'ap-south-1') },
        ],
        timeoutMs,
      })
      const since = Date.now() - 1_000
      const started = Date.now()
      const error = await publisher.invalidate('users:3').catch((e: unknown) => e)
      // The hung client's own request timeout is 60 s: only the publish deadline ends this.
      expect(Date.now() - started).toBeLessThan(30_000)
      expect(error).toBeInstanceOf(PublishError)
      expect(error).toMatchObject({
        failedKeys: ['users:3'],
        failedStreams: ['hung'],
        failedRegions: ['ap-south-1'],
        errorCodes: ['TimeoutError'],
      })
      expect((await readInvalidations(europe, west, since)).keys).toEqual(['users:3'])
    } finally {
      for (const socket of sockets) socket.destroy()
      await new Promise((resolve) => hanging.close(resolve))
    }
  })
})
