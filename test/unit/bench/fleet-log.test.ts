import { describe, expect, it } from 'vitest'
import { workload } from '../../../bench/fleet/index.js'
import { SimulatedKinesis } from '../../../bench/fleet/kinesis.js'
import { logDefaults, readCost } from '../../../bench/fleet/log.js'
import { type RelayEvent, ShardMapping } from '../../../bench/fleet/mapping.js'
import { simulateFleet } from '../../../bench/fleet/simulate.js'
import * as lib from '../../../src/index.js'

const SHARD = 'shardId-000000000000'

const mappingOn = (
  kinesis: SimulatedKinesis,
  handler: (event: RelayEvent) => Promise<void>,
  batchSize = 100,
) => {
  const clock = { t: 0 }
  const mapping = new ShardMapping({
    stream: 's',
    shardId: SHARD,
    kinesis: kinesis.client({
      now: () => clock.t,
      arrive: (at) => {
        clock.t = Math.max(clock.t, at)
      },
      latencyMs: () => 10,
    }),
    handler,
    clock,
    batchSize,
    pollIntervalMs: 1_000,
    invokeMs: 20,
    retryDelayMs: 1_000,
  })
  return { mapping, clock }
}

/** Runs the mapping's steps until `untilMs`, as the simulation's event loop does. */
const run = async (mapping: ShardMapping, untilMs: number, from = 0): Promise<number> => {
  let at = from
  while (at < untilMs) at = await mapping.step(at)
  return at
}

const put = (kinesis: SimulatedKinesis, key: string, at: number) =>
  kinesis.put('s', lib.encodeRecord({ keys: [key], prefixes: [], all: false }, at), key, at)

describe('the fleet simulation’s event source mapping', () => {
  it('polls an idle shard about once a second and invokes only with records, in the Kinesis event shape', async () => {
    const kinesis = new SimulatedKinesis({ streams: [{ name: 's', shards: 1 }] })
    const events: RelayEvent[] = []
    const { mapping } = mappingOn(kinesis, async (event) => {
      events.push(event)
    })
    put(kinesis, 'users:1', 2_500)
    await run(mapping, 10_000)
    // GetRecords 0, 1, …, 9 s: one of the shard's five reads per second.
    expect(mapping.stats.polls).toBe(10)
    expect(kinesis.stats().calls.GetRecords).toBe(10)
    expect(events).toHaveLength(1)
    const record = events[0]?.Records[0]
    expect(record?.eventID.startsWith(`${SHARD}:`)).toBe(true)
    expect(record?.kinesis.approximateArrivalTimestamp).toBe(2.5)
    const decoded = lib.decodeRecord(Buffer.from(record?.kinesis.data ?? '', 'base64'))
    expect(decoded.ok && decoded.invalidation.keys).toEqual(['users:1'])
  })

  it('reads again at once after a full batch, and retries a failed batch with the same records', async () => {
    const kinesis = new SimulatedKinesis({ streams: [{ name: 's', shards: 1 }] })
    for (let i = 0; i < 5; i++) put(kinesis, `users:${i}`, 0)
    const seen: string[][] = []
    let failures = 1
    const { mapping } = mappingOn(
      kinesis,
      async (event) => {
        seen.push(event.Records.map((record) => record.kinesis.sequenceNumber))
        if (failures-- > 0) throw new Error('relay crashed')
      },
      2,
    )
    const next = await mapping.step(0)
    // GetShardIterator and GetRecords (10 ms each), the 20 ms invoke, then the retry delay.
    expect(next).toBe(1_040)
    await run(mapping, 3_000, next)
    expect(seen[0]).toEqual(seen[1])
    expect(seen.flat().slice(2)).toHaveLength(5)
    expect(mapping.stats).toMatchObject({ failedInvocations: 1, invocations: 4, records: 5 })
  })
})

describe('the fleet simulation in log mode (scache’s relay and log source)', () => {
  const short = {
    ...workload,
    containers: 20,
    mode: 'adaptive' as const,
    pollIntervalMs: 1_000,
    shards: 1,
    streams: 1,
    warmupMs: 10_000,
    durationMs: 20_000,
  }

  it('relays every write to the containers within the stated bound, one Query per poll, nothing throttled', async () => {
    const result = await simulateFleet(lib, { ...short, log: { ...logDefaults, copies: 1 } })
    const log = result.log
    expect(log).toBeDefined()
    expect(result.throttles).toBe(0)
    expect(result.throttledReads).toBe(0)
    expect(result.bypassRate).toBe(0)
    expect(result.writesHeld).toBeGreaterThan(20)
    // Visibility 0.25 s + the mapping's poll ≤ 1 s + invoke and append + the container's ≤ 1 s
    // interval and its Query: no caller saw a value staler than that.
    expect(result.servedStalenessMaxS).toBeLessThan(2.5)
    // Every holder let go soon after: at its first request once the invalidation was in the log
    // (entries expire only after 30 s).
    expect(result.stalenessP50S).toBeLessThan(5)
    // The relay ran about once a second, for the writes and heartbeats.
    expect(log?.invocationsPerSecond).toBeGreaterThan(0.8)
    expect(log?.invocationsPerSecond).toBeLessThanOrEqual(1.05)
    // One strongly consistent read unit per poll, give or take an anchor or head read.
    const polls = result.pollsPerContainerPerSecond * short.containers
    expect(log?.readUnitsPerSecond).toBeGreaterThan(polls * 0.95)
    expect(log?.readUnitsPerSecond).toBeLessThan(polls * 1.2)
    expect(result.kinesis.calls.GetRecords).toBeLessThanOrEqual(21)
    const cost = readCost(result, short.containers)
    expect(cost.onDemandUsdPerMonth).toBeCloseTo(
      ((log?.readUnitsPerSecond ?? 0) * 730 * 3_600 * 0.125) / 1e6,
      1,
    )
  })

  it('throttles the containers’ Queries past a partition’s read units, and copies spread them', async () => {
    const limits = { readUnitsPerSecondPerPartition: 8 }
    const one = await simulateFleet(lib, { ...short, log: { ...logDefaults, copies: 1, limits } })
    expect(one.throttledReads).toBeGreaterThan(0)
    expect(one.log?.dynamodb.throttled.Query).toBeGreaterThan(0)
    const spread = await simulateFleet(lib, {
      ...short,
      log: { ...logDefaults, copies: 8, limits },
    })
    expect(spread.throttledReads).toBeLessThan(one.throttledReads / 4)
    expect(Object.keys(spread.log?.dynamodb.readUnitsByPartition ?? {}).length).toBeGreaterThan(4)
  })
})
