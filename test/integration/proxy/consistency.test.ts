import { setTimeout as sleep } from 'node:timers/promises'
import type { Context } from 'aws-lambda'
import { describe, expect, it } from 'vitest'
import {
  createPublisher,
  type InvocationLog,
  type ScacheOptions,
  type WithCache,
} from '../../../src/index.js'
import { lambdaContext } from '../../support/containers.js'
import { DATABASE, type VersionedDatabase } from '../../support/functions/database.js'
import { useKinesis } from '../../support/kinesis.js'
import { type LimitsProxy, startLimitsProxy } from '../../support/limits-proxy.js'
import { seededRandom } from '../../support/prng.js'
import { VersionedSource } from '../../support/versioned-source.js'

/**
 * A randomized consistency check. Several containers (each its own instance of a function module:
 * its own cache and stream position, one request at a time) read keys through the cache while writers
 * bump versions in a source and publish invalidations. Reads go through the limits proxy, with
 * throttling, 5xx, resets, hangs and latency injected, and the stream is split mid-run. Every
 * read is then checked against the acknowledged writes.
 */

const kinesis = useKinesis()

interface Read {
  readonly key: string
  readonly version: number
  /** The invocation began (before its poll). */
  readonly begunAt: number
  /** The handler asked the cache. */
  readonly readAt: number
}

interface Report {
  readonly reads: number
  readonly hits: number
  readonly misses: number
  readonly bypassed: number
  readonly clears: number
  /** Writes acknowledged (each writer stops after its share of the scenario's `writes`). */
  readonly writes: number
  /** Reads of a version older than one acknowledged before the invocation began. */
  readonly stale: number
  /** How long after a newer version was acknowledged a read still returned an older one, ms. */
  readonly stalenessMs: { readonly p50: number; readonly p99: number; readonly max: number }
  readonly throttled: number
  readonly faults: number
}

const percentile = (sorted: number[], p: number): number =>
  sorted.length === 0
    ? 0
    : (sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0)

interface Scenario {
  readonly seed: number
  readonly options: Pick<ScacheOptions, 'pollIntervalMs' | 'maxStalenessMs' | 'onStreamError'>
  readonly containers: number
  /** Idle time between a container's requests, ms. */
  readonly gapMs: readonly [number, number]
  /** Keys in the source. */
  readonly keys: number
  /** Keys read per request. */
  readonly readsPerRequest: number
  /** Idle time between a writer's writes, ms. */
  readonly writeGapMs: readonly [number, number]
  /**
   * Writes to make, shared by two writers; readers read until they are done (and for at least
   * `minDurationMs`). The run is sized by work, not by the clock, so that a slow machine makes it
   * longer, never thinner.
   */
  readonly writes: number
  readonly minDurationMs: number
  /** Split a shard mid-run. */
  readonly reshard: boolean
}

const run = async ({
  seed,
  options,
  containers: containerCount,
  gapMs: [minGap, maxGap],
  keys: keyCount,
  readsPerRequest,
  writeGapMs: [minWriteGap, maxWriteGap],
  writes: plannedWrites,
  minDurationMs,
  reshard,
}: Scenario): Promise<Report> => {
  const random = seededRandom(seed)
  const stream = await kinesis.createStream(2)
  const proxy: LimitsProxy = await startLimitsProxy({
    target: kinesis.endpoint,
    seed,
    latencyMs: () => Math.floor(random() * 5),
  })
  const reads = ['GetRecords', 'GetShardIterator', 'ListShards']
  proxy.inject({ kind: 'throttle', operations: reads, probability: 0.03 })
  proxy.inject({ kind: '5xx', operations: reads, probability: 0.03 })
  proxy.inject({ kind: 'reset', operations: reads, probability: 0.02 })
  proxy.inject({ kind: 'hang', operations: reads, probability: 0.01 })

  const source = new VersionedSource()
  const keys = Array.from({ length: keyCount }, (_, i) => `items:${i}`)
  const log: InvocationLog[] = []
  const readsDone: Read[] = []
  const database: VersionedDatabase = {
    read: (key) => source.read(key),
    log: (line) => log.push(line),
  }
  Object.assign(globalThis, { [DATABASE]: database })
  // Each container is its own instance of the function's module, configured as Lambda would be.
  Object.assign(process.env, {
    SCACHE_STREAM_NAME: stream,
    AWS_ENDPOINT_URL_KINESIS: proxy.endpoint,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
    SCACHE_TEST_OPTIONS: JSON.stringify({ ...options, pollBudgetMs: 200 }),
  })
  const functionModule = new URL('../../support/functions/versioned-reader.ts', import.meta.url)
  const modules = await Promise.all(
    Array.from(
      { length: containerCount },
      (_, n) =>
        import(/* @vite-ignore */ `${functionModule.href}?seed=${seed}&container=${n}`) as Promise<
          typeof import('../../support/functions/versioned-reader.js')
        >,
    ),
  )
  expect(new Set(modules.map((module) => module.cache.instance)).size).toBe(containerCount)
  const containers = modules.map(({ handler }) => async (keys: string[]) => {
    const begunAt = Date.now()
    const results = await handler({ keys }, lambdaContext() as Context & WithCache)
    for (const result of results) readsDone.push({ ...result, begunAt })
  })

  // The writers' publishes are not under test: a busy machine may take longer than the default
  // 3 s budget to acknowledge one.
  const publisher = createPublisher({
    streamName: stream,
    client: kinesis.client(),
    timeoutMs: 15_000,
  })
  const minUntil = Date.now() + minDurationMs
  let writes = 0
  let writersDone = false
  const pick = () => keys[Math.floor(random() * keys.length)] ?? 'items:0'
  const writers = Promise.all(
    [0, 1].map(async (writer) => {
      const share = Math.floor(plannedWrites / 2) + (writer === 0 ? plannedWrites % 2 : 0)
      for (let n = 0; n < share; n++) {
        await source.write(pick(), publisher)
        writes++
        await sleep(minWriteGap + Math.floor(random() * (maxWriteGap - minWriteGap)))
      }
    }),
  ).finally(() => {
    writersDone = true
  })
  await Promise.all([
    // Each container serves one request at a time, with short idle gaps and the odd long one,
    // until the writers are done and the run has lasted its minimum.
    ...containers.map(async (invoke) => {
      while (!writersDone || Date.now() < minUntil) {
        await invoke(Array.from({ length: readsPerRequest }, pick))
        await sleep(random() < 0.05 ? 500 : minGap + Math.floor(random() * (maxGap - minGap)))
      }
    }),
    writers,
    // The stream is resharded mid-run.
    reshard ? sleep(1_000).then(() => kinesis.split(stream)) : undefined,
  ])
  const stats = proxy.stats()
  await proxy.close()

  // Both ends of a staleness are measured on the safe side: `readAt` before the cache is asked,
  // an acknowledgment's `at` after `invalidate` resolved. A busy machine can only make a measured
  // staleness shorter than the real one, so the bound is asserted exactly, with no headroom to
  // lose: what the cache promises is that it never serves a value when its last successful poll
  // began more than maxStalenessMs earlier, and that poll read every record acknowledged before it
  // began (kinesalite makes a record readable when it acknowledges it).
  let stale = 0
  const staleness: number[] = []
  for (const read of readsDone) {
    const overtakenAt = source.overtakenAt(read.key, read.version)
    if (overtakenAt === undefined) continue
    if (overtakenAt < read.begunAt) stale++
    if (overtakenAt < read.readAt) staleness.push(read.readAt - overtakenAt)
  }
  staleness.sort((a, b) => a - b)
  const sum = (field: 'hits' | 'misses' | 'bypassed') =>
    log.reduce((total, line) => total + line[field], 0)
  return {
    reads: readsDone.length,
    hits: sum('hits'),
    misses: sum('misses'),
    bypassed: sum('bypassed'),
    clears: log.filter((line) => line.cleared !== undefined).length,
    writes,
    stale,
    stalenessMs: {
      p50: percentile(staleness, 0.5),
      p99: percentile(staleness, 0.99),
      max: staleness.at(-1) ?? 0,
    },
    throttled: Object.values(stats.throttled).reduce((a, b) => a + b, 0),
    faults: Object.values(stats.faults).reduce((a, b) => a + b, 0),
  }
}

const SEED = Number(process.env.SCACHE_SEED ?? 20261121)

describe(`randomized consistency with faults injected (seed ${SEED}; SCACHE_SEED replays)`, () => {
  it('strict mode (a poll before every request): no read older than an acknowledged invalidation', async () => {
    // A fleet near the shard's read limit (about 6 polls/s for 5 allowed), so some polls are
    // throttled on top of the injected faults.
    const report = await run({
      seed: SEED,
      options: { pollIntervalMs: 0, onStreamError: 'bypass' },
      containers: 3,
      gapMs: [300, 700],
      keys: 6,
      readsPerRequest: 4,
      writeGapMs: [100, 300],
      writes: 20,
      minDurationMs: 3_000,
      reshard: false,
    })
    console.info('strict', JSON.stringify(report))
    expect(report.stale).toBe(0)
    // The run exercised what it claims to: hits, faults that forced bypasses, writes.
    expect(report.hits).toBeGreaterThan(0)
    expect(report.bypassed).toBeGreaterThan(0)
    expect(report.faults + report.throttled).toBeGreaterThan(0)
    // Every write was acknowledged: a publisher that failed would have thrown out of the run.
    expect(report.writes).toBe(20)
    expect(report.reads).toBeGreaterThan(0)
  })

  it('interval mode (serve-stale), resharded mid-run: staleness within maxStalenessMs', async () => {
    const maxStalenessMs = 1_000
    const report = await run({
      seed: SEED + 1,
      options: { pollIntervalMs: 250, maxStalenessMs, onStreamError: 'serve-stale' },
      containers: 6,
      gapMs: [0, 10],
      keys: 12,
      readsPerRequest: 1,
      writeGapMs: [10, 40],
      writes: 60,
      minDurationMs: 3_000,
      reshard: true,
    })
    console.info('interval', JSON.stringify(report))
    expect(report.stalenessMs.max).toBeLessThanOrEqual(maxStalenessMs)
    // The cache was used (how much depends on the machine's speed, which a test does not assert).
    expect(report.hits).toBeGreaterThan(0)
    expect(report.faults + report.throttled).toBeGreaterThan(0)
    expect(report.writes).toBe(60)
  })
})
