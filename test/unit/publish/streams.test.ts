import { createServer, type IncomingHttpHeaders } from 'node:http'
import type { AddressInfo } from 'node:net'
import { KinesisClient } from '@aws-sdk/client-kinesis'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { ScacheOptionsError } from '../../../src/errors.js'
import { createScache } from '../../../src/index.js'
import { createPublisher, type PublisherOptions } from '../../../src/publish/index.js'
import { arnRegion, createDefaultClient } from '../../../src/stream/client.js'

afterEach(() => {
  vi.unstubAllEnvs()
})

const errorOf = (build: () => unknown): ScacheOptionsError => {
  try {
    build()
  } catch (error) {
    if (error instanceof ScacheOptionsError) return error
    throw error
  }
  throw new Error('no error')
}

const client = new KinesisClient({ region: 'us-east-1' })

describe('stream ARNs', () => {
  it('name their region', () => {
    expect(arnRegion('arn:aws:kinesis:eu-west-1:123456789012:stream/name')).toBe('eu-west-1')
    expect(arnRegion('arn:aws-cn:kinesis:cn-north-1:123456789012:stream/a.b_c-d')).toBe(
      'cn-north-1',
    )
    expect(arnRegion('name')).toBeUndefined()
    // Not a stream's ARN: no region taken from it.
    expect(arnRegion('arn:aws:sqs:eu-west-1:123456789012:queue')).toBeUndefined()
    expect(arnRegion('arn:aws:kinesis:eu-west-1:123456789012:stream/a/consumer/b')).toBeUndefined()
  })
})

describe('streams option', () => {
  it.each<[string, PublisherOptions, string]>([
    ['an empty list', { streams: [] }, 'streams'],
    ['with streamName', { streamName: 'a', streams: [{ name: 'b' }] }, 'streams'],
    ['a string for a target', { streams: ['a' as never] }, 'streams[0]'],
    ['an unknown field', { streams: [{ name: 'a', zone: 'x' } as never] }, 'streams[0].zone'],
    ['an empty name', { streams: [{ name: '' }] }, 'streams[0].name'],
    ['a bad region', { streams: [{ name: 'a', region: 'Europe' }] }, 'streams[0].region'],
    [
      "a region not the ARN's",
      {
        streams: [{ name: 'arn:aws:kinesis:eu-west-1:123456789012:stream/a', region: 'us-east-1' }],
      },
      'streams[0].region',
    ],
    ['a bad client', { streams: [{ name: 'a', client: {} as never }] }, 'streams[0].client'],
    [
      'the same stream twice',
      {
        streams: [
          { name: 'a', region: 'eu-west-1' },
          { name: 'a', region: 'eu-west-1' },
        ],
      },
      'streams[1]',
    ],
    [
      'one client for two regions',
      {
        client,
        streams: [
          { name: 'a', region: 'eu-west-1' },
          { name: 'arn:aws:kinesis:us-east-1:123456789012:stream/b' },
        ],
      },
      'client',
    ],
  ])('rejects %s', (_, options, option) => {
    expect(errorOf(() => createPublisher(options)).option).toBe(option)
  })

  it('accepts the same name in two regions, and one client for one region', () => {
    expect(() =>
      createPublisher({
        streams: [
          { name: 'a', region: 'eu-west-1' },
          { name: 'a', region: 'us-east-1', client },
        ],
      }),
    ).not.toThrow()
    expect(() =>
      createPublisher({ client, streams: [{ name: 'a', region: 'eu-west-1' }, { name: 'b' }] }),
    ).not.toThrow()
  })
})

/**
 * A real HTTP endpoint standing in for Kinesis, set as `AWS_ENDPOINT_URL_KINESIS`: it records the
 * region each request was signed for and the stream it named, and acknowledges every record.
 */
const captureKinesis = async () => {
  const seen: { region: string; target: string }[] = []
  const server = createServer((request, response) => {
    let body = ''
    request.on('data', (chunk: Buffer) => {
      body += chunk.toString()
    })
    request.on('end', () => {
      const input = JSON.parse(body) as { StreamARN?: string; StreamName?: string }
      seen.push({
        region: scopeRegion(request.headers),
        target: input.StreamARN ?? input.StreamName ?? '',
      })
      response.setHeader('content-type', 'application/x-amz-json-1.1')
      response.end(
        JSON.stringify({
          FailedRecordCount: 0,
          Records: [{ SequenceNumber: '1', ShardId: 'shardId-000000000000' }],
        }),
      )
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  vi.stubEnv(
    'AWS_ENDPOINT_URL_KINESIS',
    `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
  )
  vi.stubEnv('AWS_ACCESS_KEY_ID', 'local')
  vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'local')
  vi.stubEnv('SCACHE_STREAM_NAME', '')
  return {
    /** What was sent, by region. */
    seen: () => [...seen].sort((a, b) => a.region.localeCompare(b.region)),
    clear: () => {
      seen.length = 0
    },
    close: () => new Promise((resolve) => server.close(resolve)),
  }
}

const west = 'arn:aws:kinesis:eu-west-1:123456789012:stream/invalidations'
const east = 'arn:aws:kinesis:us-east-1:123456789012:stream/invalidations'

describe('default clients', () => {
  it("sign each stream's requests for its own region (ARNs from SCACHE_STREAM_NAMES)", async () => {
    const kinesis = await captureKinesis()
    try {
      vi.stubEnv('AWS_REGION', 'us-west-2')
      vi.stubEnv('SCACHE_STREAM_NAMES', `${west},${east}`)
      const result = await createPublisher().invalidate('users:1')
      expect(result.acknowledged.map(({ region }) => region).sort()).toEqual([
        'eu-west-1',
        'us-east-1',
      ])
      expect(kinesis.seen()).toEqual([
        { region: 'eu-west-1', target: west },
        { region: 'us-east-1', target: east },
      ])
      // A name without a region goes to the environment's.
      kinesis.clear()
      vi.stubEnv('SCACHE_STREAM_NAMES', '')
      vi.stubEnv('SCACHE_STREAM_NAME', 'plain')
      await createPublisher().invalidate('users:1')
      expect(kinesis.seen()).toEqual([{ region: 'us-west-2', target: 'plain' }])
    } finally {
      await kinesis.close()
    }
  })

  it("a container reads its own region's stream and invalidates in every region", async () => {
    const kinesis = await captureKinesis()
    try {
      vi.stubEnv('AWS_REGION', 'us-east-1')
      vi.stubEnv('SCACHE_STREAM_NAMES', `${west},${east}`)
      for (const draw of [0, 0.99]) {
        const instance = createScache({
          log: false,
          clock: { now: () => Date.now(), random: () => draw },
        })
        expect(instance.options.streamName).toBe(east)
        // Its reading client (given) serves its region; the other region gets a default client.
        const reads = createDefaultClient(
          { maxAttempts: 1 },
          { region: 'us-east-1', endpoint: process.env.AWS_ENDPOINT_URL_KINESIS },
        )
        const withClient = createScache({
          log: false,
          stream: { names: [west, east], client: reads },
        })
        for (const scache of [instance, withClient]) {
          kinesis.clear()
          const invocation = await scache.begin()
          await invocation.cache.invalidate('users:1')
          invocation.end()
          expect(kinesis.seen()).toEqual([
            { region: 'eu-west-1', target: west },
            { region: 'us-east-1', target: east },
          ])
        }
      }
      vi.stubEnv('AWS_REGION', 'ap-south-1')
      expect(errorOf(() => createScache({ log: false })).option).toBe('stream.names')
    } finally {
      await kinesis.close()
    }
  })
})

/** The region of a SigV4 Authorization header's credential scope. */
const scopeRegion = (headers: IncomingHttpHeaders): string =>
  /Credential=[^/]+\/\d{8}\/([^/]+)\/kinesis\//.exec(headers.authorization ?? '')?.[1] ?? 'none'
