import { describe, expect, it } from 'vitest'
import { createPublisher } from '../../../src/index.js'
import { startCli } from '../../support/cli.js'
import { useKinesis } from '../../support/kinesis.js'

const kinesis = useKinesis()

/** A change record as "Kinesis Data Streams for DynamoDB" writes it. */
const dynamoDbChange = (id: string) =>
  JSON.stringify({
    awsRegion: 'us-east-1',
    eventName: 'MODIFY',
    tableName: 'Users',
    dynamodb: {
      ApproximateCreationDateTime: Date.now() * 1_000, // microseconds, as some tables send
      Keys: { id: { S: id } },
      SizeBytes: 40,
    },
    eventSource: 'aws:dynamodb',
  })

describe('scache tail (kinesalite)', () => {
  it('prints what arrives while it runs: invalidations, DynamoDB changes and skipped records', async () => {
    const stream = await kinesis.createStream(2)
    const tail = startCli([
      'tail',
      '--stream',
      stream,
      '--endpoint',
      kinesis.endpoint,
      '--json',
      '--count',
      '3',
      '--duration',
      '20s',
      '--interval-ms',
      '100',
    ])
    await tail.waitFor('stderr', /Tailing/)
    const published = await createPublisher({
      streamName: stream,
      client: kinesis.client(),
    }).invalidate(['users:1', 'users:2'])
    await kinesis.putRaw(stream, dynamoDbChange('42'))
    await kinesis.putRaw(stream, 'not json')
    const { code, stdout, stderr } = await tail.done

    expect(code).toBe(0)
    expect(stderr).toMatch(/Stopped after 3 records \(1 skipped\)/)
    const records = stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line))
    const byKind = Object.fromEntries(records.map((record) => [record.kind, record]))
    expect(Object.keys(byKind).sort()).toEqual(['dynamodb', 'invalidation', 'skipped'])

    const ack = published.acknowledged[0]
    expect(byKind.invalidation).toMatchObject({
      stream,
      shardId: ack?.shardId,
      sequenceNumber: ack?.sequenceNumber,
      keys: ['users:1', 'users:2'],
      prefixes: [],
      all: false,
    })
    const { at, arrivedAt, delayMs } = byKind.invalidation
    expect(Date.parse(arrivedAt) - Date.parse(at)).toBe(delayMs)
    expect(delayMs).toBeGreaterThanOrEqual(0)
    expect(delayMs).toBeLessThan(5_000)

    expect(byKind.dynamodb).toMatchObject({
      table: 'Users',
      event: 'MODIFY',
      key: { id: '42' },
      at: expect.any(String),
    })
    // Microseconds read as such: the change is from now, not from the year 50000.
    expect(Math.abs(Date.parse(byKind.dynamodb.at) - Date.now())).toBeLessThan(60_000)
    expect(byKind.skipped).toMatchObject({ reason: 'not-json', shardId: expect.any(String) })
    for (const record of records) expect(record.sequenceNumber).toMatch(/^\d+$/)
  })

  it('with a secret, shows unsigned records as skipped; Ctrl-C stops it cleanly', async () => {
    const stream = await kinesis.createStream(1)
    const secret = 'a-shared-secret-of-32-characters'
    const tail = startCli(
      ['tail', '-s', stream, '--endpoint', kinesis.endpoint, '--interval-ms', '100'],
      {
        env: { SCACHE_SECRET: secret },
      },
    )
    await tail.waitFor('stderr', /Tailing .* \(signed records only\)/)
    const client = kinesis.client()
    await createPublisher({ streamName: stream, client, secret }).invalidate('users:7')
    await createPublisher({ streamName: stream, client }).invalidatePrefix('orders:')
    await tail.waitFor('stdout', /reason=unsigned/)
    tail.child.kill('SIGINT')
    const { code, stdout, stderr } = await tail.done

    expect(code).toBe(0)
    expect(stderr).toMatch(/Stopped after 2 records \(1 skipped\)/)
    const [signed, unsigned] = stdout.trim().split('\n')
    expect(signed).toMatch(
      /shardId-000000000000 {2}\d+ {2}invalidation {2}keys=\["users:7"\] {2}at=/,
    )
    expect(unsigned).toMatch(/skipped {2}reason=unsigned$/)
  })

  it('--from an ISO time reads what was written before it started', async () => {
    const stream = await kinesis.createStream(1)
    const before = new Date(Date.now() - 1_000).toISOString()
    await createPublisher({ streamName: stream, client: kinesis.client() }).invalidateAll()
    const tail = startCli([
      'tail',
      '-s',
      stream,
      '--endpoint',
      kinesis.endpoint,
      '--from',
      before,
      '--count',
      '1',
      '--json',
    ])
    const { code, stdout } = await tail.done
    expect(code).toBe(0)
    expect(JSON.parse(stdout)).toMatchObject({ kind: 'invalidation', all: true })
  })
})
