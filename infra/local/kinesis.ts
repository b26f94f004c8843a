import { createRequire } from 'node:module'
import type { AddressInfo } from 'node:net'
import {
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  type KinesisClient,
  type KinesisClientConfig,
} from '@aws-sdk/client-kinesis'
import type kinesaliteType from 'kinesalite'
import { createDefaultClient } from '../../src/stream/index.js'

// The shims must be in require.cache before kinesalite loads its actions.
const require = createRequire(import.meta.url)
require('./kinesalite-at-timestamp.cjs')
require('./kinesalite-shard-end.cjs')
const kinesalite = require('kinesalite') as typeof kinesaliteType

/** Settings that point an AWS SDK client at the local Kinesis. */
export interface LocalKinesisConfig {
  readonly endpoint: string
  readonly region: string
  readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string }
}

export interface LocalKinesis {
  readonly config: LocalKinesisConfig
  /** A client like the one scache builds by default, pointed at the local Kinesis. */
  client(options?: { maxAttempts?: number }): KinesisClient
  /** Creates a stream and waits until it is ACTIVE. */
  createStream(name: string, shardCount?: number): Promise<void>
  /** Waits until a stream is ACTIVE again, e.g. after a split or merge. */
  untilActive(name: string): Promise<void>
  close(): Promise<void>
}

/**
 * Starts kinesalite, an implementation of the Kinesis API, in this process: in memory, on a
 * loopback port (0 picks a free one). Real SDK clients reach it over HTTP.
 */
export const startLocalKinesis = async (port = 0): Promise<LocalKinesis> => {
  const server = kinesalite({
    createStreamMs: 0,
    deleteStreamMs: 0,
    updateStreamMs: 0,
    shardLimit: 1_000,
  })
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
  const address = server.address() as AddressInfo
  const config: LocalKinesisConfig = {
    endpoint: `http://127.0.0.1:${address.port}`,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  }
  const clients: KinesisClient[] = []
  const client = (options: { maxAttempts?: number } = {}): KinesisClient => {
    const created = createDefaultClient(
      { maxAttempts: options.maxAttempts ?? 1 },
      config as KinesisClientConfig,
    )
    clients.push(created)
    return created
  }
  const admin = client({ maxAttempts: 3 })
  const untilActive = async (name: string): Promise<void> => {
    for (let i = 0; i < 100; i++) {
      const { StreamDescriptionSummary } = await admin.send(
        new DescribeStreamSummaryCommand({ StreamName: name }),
      )
      if (StreamDescriptionSummary?.StreamStatus === 'ACTIVE') return
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    throw new Error(`stream ${name} never became ACTIVE`)
  }
  return {
    config,
    client,
    async createStream(name, shardCount = 1) {
      await admin.send(new CreateStreamCommand({ StreamName: name, ShardCount: shardCount }))
      await untilActive(name)
    },
    untilActive,
    async close() {
      for (const created of clients) created.destroy()
      server.closeAllConnections()
      await new Promise<void>((resolve, reject) =>
        server.close((error) => (error ? reject(error) : resolve())),
      )
    },
  }
}
