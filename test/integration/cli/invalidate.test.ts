import { describe, expect, it } from 'vitest'
import { type ReadRecord, StreamReader } from '../../../src/index.js'
import { runCli } from '../../support/cli.js'
import { useKinesis } from '../../support/kinesis.js'

const kinesis = useKinesis()
const SECRET = 'a-shared-secret-of-32-characters'

/** Every record on `stream`, read back by the library's reader (requiring signatures). */
const readBack = async (stream: string, since: number): Promise<ReadRecord[]> => {
  const reader = new StreamReader({
    stream,
    client: kinesis.client(),
    clockSkewMs: Date.now() - since,
    maxPagesPerShard: 10,
    secrets: [SECRET],
  })
  const records: ReadRecord[] = []
  await reader.poll({ apply: () => {}, onRecord: (record) => records.push(record) })
  return records
}

describe('scache invalidate (kinesalite)', () => {
  it('publishes signed to replicated streams and prints where each record went', async () => {
    const [first, second] = await Promise.all([kinesis.createStream(2), kinesis.createStream(1)])
    const since = Date.now() - 1_000
    const published = await runCli(
      [
        'invalidate',
        'users:1',
        'users:2',
        '--prefix',
        'orders:',
        '--stream',
        `${first},${second}`,
        '--endpoint',
        kinesis.endpoint,
      ],
      { env: { SCACHE_SECRET: SECRET } },
    )
    expect(published.stderr).toContain('(signed)')
    expect(published.code).toBe(0)

    // The table printed: a header, then stream, shard and sequence number of every record.
    const [header, ...rows] = published.stdout.trim().split('\n')
    expect(header).toMatch(/^stream\s+shard\s+sequence number$/)
    const printed = rows.map((row) => row.split(/\s+/).join(' ')).sort()
    const read = [
      ...(await readBack(first as string, since)).map((record) => ({ stream: first, record })),
      ...(await readBack(second as string, since)).map((record) => ({ stream: second, record })),
    ]
    expect(printed).toEqual(
      read
        .map(({ stream, record }) => `${stream} ${record.shardId} ${record.sequenceNumber}`)
        .sort(),
    )
    // Keys and the prefix travel in separate records, on each stream, signed.
    for (const stream of [first, second]) {
      const decoded = read.filter((r) => r.stream === stream).map((r) => r.record.decoded)
      expect(decoded.every((result) => result.ok)).toBe(true)
      expect(decoded.flatMap((r) => (r.ok ? r.invalidation.keys : [])).sort()).toEqual([
        'users:1',
        'users:2',
      ])
      expect(decoded.flatMap((r) => (r.ok ? r.invalidation.prefixes : []))).toEqual(['orders:'])
    }
  })

  it('--tag and --pattern publish signed version 3 records; a bad pattern is a usage error', async () => {
    const stream = await kinesis.createStream(1)
    const since = Date.now() - 1_000
    const [published, bad] = await Promise.all([
      runCli(
        [
          'invalidate',
          '--tag',
          'user:7',
          '-t',
          'user:8',
          '--pattern',
          'users:*:profile',
          '-s',
          stream,
          '--endpoint',
          kinesis.endpoint,
          '--json',
        ],
        { env: { SCACHE_SECRET: SECRET } },
      ),
      runCli(['invalidate', '--pattern', '', '-s', stream, '--endpoint', kinesis.endpoint]),
    ])
    expect(published.code).toBe(0)
    expect(JSON.parse(published.stdout)).toMatchObject({
      tags: ['user:7', 'user:8'],
      patterns: ['users:*:profile'],
      records: 2,
    })
    const decoded = (await readBack(stream, since)).map((record) => record.decoded)
    expect(decoded.flatMap((r) => (r.ok ? (r.invalidation.tags ?? []) : [])).sort()).toEqual([
      'user:7',
      'user:8',
    ])
    expect(decoded.flatMap((r) => (r.ok ? (r.invalidation.patterns ?? []) : []))).toEqual([
      'users:*:profile',
    ])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toMatch(/pattern "" must not be empty/)
  })

  it('prints JSON with --json; a missing stream exits 1 and says so', async () => {
    const stream = await kinesis.createStream(1)
    const [all, missing] = await Promise.all([
      runCli(['invalidate', '--all', '-s', stream, '--endpoint', kinesis.endpoint, '--json']),
      runCli(['invalidate', 'users:1', '-s', 'no-such-stream', '--endpoint', kinesis.endpoint]),
    ])
    expect(all.code).toBe(0)
    const result = JSON.parse(all.stdout)
    expect(result).toMatchObject({ all: true, signed: false, records: 1 })
    expect(result.acknowledged).toEqual([
      { stream, shardId: 'shardId-000000000000', sequenceNumber: expect.any(String) },
    ])
    expect(missing.code).toBe(1)
    expect(missing.stdout).toBe('')
    expect(missing.stderr).toMatch(/Not published: .*"users:1".*no-such-stream/)
    expect(missing.stderr).toMatch(/stream not found/)
  })
})

describe('scache invalidate against a local endpoint', () => {
  it('needs no region or credentials: a loopback emulator checks neither', async () => {
    const stream = await kinesis.createStream(1)
    const result = await runCli(
      ['invalidate', 'users:1', '--stream', stream, '--endpoint', kinesis.endpoint],
      {
        env: {
          AWS_ACCESS_KEY_ID: undefined,
          AWS_SECRET_ACCESS_KEY: undefined,
          AWS_REGION: undefined,
          AWS_DEFAULT_REGION: undefined,
          AWS_PROFILE: undefined,
          AWS_CONFIG_FILE: '/nonexistent/config',
          AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/credentials',
        },
      },
    )
    expect(result.stderr).not.toMatch(/Region is missing|credentials/i)
    expect(result.code).toBe(0)
    expect(result.stdout).toContain(stream)
  })
})
