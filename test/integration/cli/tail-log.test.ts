import { describe, expect, it } from 'vitest'
import { RelayDriver } from '../../../infra/local/relay.js'
import { createPublisher, createRelay } from '../../../src/index.js'
import { heartbeatRecord } from '../../../src/log/index.js'
import { startCli } from '../../support/cli.js'
import { useKinesis } from '../../support/kinesis.js'
import { useLog } from '../../support/log.js'

const kinesis = useKinesis()
const log = useLog()

describe('scache tail --log-table (kinesalite → relay → dynalite)', () => {
  it('prints the entries the relay appends after it starts: invalidations and heartbeats', async () => {
    const stream = await kinesis.createStream(1)
    const table = await log.createTable()
    const relay = createRelay({ table, client: log.client(), log: () => {} })
    const driver = new RelayDriver({
      client: kinesis.client({ maxAttempts: 3 }),
      stream,
      handler: relay,
    })
    const publisher = createPublisher({ streamName: stream, client: kinesis.client() })
    // Appended before tail starts: not shown (tail starts at the head).
    await publisher.invalidate(['before:1'])
    await driver.drain()

    const tail = startCli(
      ['tail', '--log-table', table, '--endpoint', log.endpoint, '--json', '--count', '2'],
      { env: { AWS_ACCESS_KEY_ID: undefined } },
    )
    await tail.waitFor('stderr', /Tailing .* from seq 2/)
    await publisher.invalidate(['users:1', 'users:2'])
    await driver.drain()
    await kinesis.putRaw(stream, heartbeatRecord(Date.now()))
    await driver.drain()
    const { code, stdout, stderr } = await tail.done

    expect(code).toBe(0)
    expect(stderr).toMatch(/Stopped after 2 entries/)
    const entries = stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line))
    expect(entries).toMatchObject([
      { copy: 'log#0', seq: 2, kind: 'invalidation', keys: ['users:1', 'users:2'] },
      { copy: 'log#0', seq: 3, kind: 'heartbeat', keys: [] },
    ])
    expect(entries[0].lagMs).toBeGreaterThanOrEqual(0)
  }, 30_000)

  it('is a usage error with --from at a time (entries are followed by seq, not time)', async () => {
    const { code, stderr } = await startCli(['tail', '--log-table', 't', '--from', '2026-01-01'])
      .done
    expect(code).toBe(2)
    expect(stderr).toMatch(/--from must be now or trim-horizon/)
  })
})
