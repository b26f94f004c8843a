import { spawn } from 'node:child_process'
import { GetRecordsCommand } from '@aws-sdk/client-kinesis'
import { createDefaultClient } from '../src/stream/client.js'
import { LeanReadClient } from '../src/stream/lean.js'
import { median, sig } from './lib/stats.js'

const CALLS_PER_ROUND = 400
const ROUNDS = 9

export interface ReadPathResult {
  /** Client CPU ms per GetRecords (one shard's share of a poll), by read path; medians. */
  readonly cpuMsPerGetRecords: { readonly sdk: number; readonly lean: number }
  /** The same per round, for the spread. */
  readonly rounds: { readonly sdk: readonly number[]; readonly lean: readonly number[] }
  /** The adopted (default) path's client CPU per GetRecords, ms. */
  readonly pollClientCpuMsPerShard: number
  /** Lean over SDK: below 0.5, the lean path halves a poll's client CPU. */
  readonly leanOverSdk: number
}

/**
 * A server in a process of its own (its CPU is not the client's) answering every request with
 * a GetRecords page of one 200-byte record, as Kinesis does on a stream with a little traffic.
 */
const startServer = async (): Promise<{ endpoint: string; close(): void }> => {
  const script = `
    const { createServer } = await import('node:http')
    const data = Buffer.alloc(200, 0x61).toString('base64')
    const body = JSON.stringify({ Records: [{ SequenceNumber: '49590338271490256608559692538361571095921575989136588898', ApproximateArrivalTimestamp: 1763700000.123, Data: data, PartitionKey: 'p' }], NextShardIterator: 'it', MillisBehindLatest: 0 })
    const server = createServer((req, res) => {
      req.resume()
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1', 'content-length': Buffer.byteLength(body), 'x-amzn-requestid': 'r' })
        res.end(body)
      })
    })
    server.listen(0, '127.0.0.1', () => process.stdout.write(String(server.address().port) + '\\n'))`
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const port = await new Promise<string>((resolve) =>
    child.stdout.once('data', (data: Buffer) => resolve(data.toString().trim())),
  )
  return { endpoint: `http://127.0.0.1:${port}`, close: () => child.kill() }
}

const cpuMs = (): number => {
  const { user, system } = process.cpuUsage()
  return (user + system) / 1_000
}

/**
 * Client CPU per GetRecords through scache's default client on each read path, against a local
 * server in another process, in rounds that alternate which path goes first.
 */
export const readPath = async (): Promise<ReadPathResult> => {
  const server = await startServer()
  const client = createDefaultClient(
    { maxAttempts: 1 },
    {
      endpoint: server.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' },
    },
  )
  const lean = new LeanReadClient(client)
  const paths = {
    sdk: () => client.send(new GetRecordsCommand({ ShardIterator: 'it', Limit: 10_000 })),
    lean: () => lean.getRecords({ ShardIterator: 'it', Limit: 10_000 }, undefined),
  }
  const samples = { sdk: [] as number[], lean: [] as number[] }
  for (const run of Object.values(paths)) for (let i = 0; i < 100; i++) await run()
  const names = ['sdk', 'lean'] as const
  for (let round = 0; round < ROUNDS; round++)
    for (let i = 0; i < names.length; i++) {
      const name = names[(i + round) % names.length] as (typeof names)[number]
      const run = paths[name]
      const started = cpuMs()
      for (let n = 0; n < CALLS_PER_ROUND; n++) await run()
      samples[name].push(sig((cpuMs() - started) / CALLS_PER_ROUND))
    }
  server.close()
  lean.destroy()
  client.destroy()
  const sdk = median(samples.sdk)
  const leanMs = median(samples.lean)
  return {
    cpuMsPerGetRecords: { sdk: sig(sdk), lean: sig(leanMs) },
    rounds: samples,
    pollClientCpuMsPerShard: sig(leanMs),
    leanOverSdk: sig(leanMs / sdk),
  }
}
