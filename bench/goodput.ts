import { faultMix, type GoodputReport, runGoodput } from '../test/support/goodput.js'
import type { ProxyStats } from '../test/support/limits-proxy.js'
import { startKinesisHost } from './lib/kinesis-host.js'
import { loadScache } from './lib/scache.js'
import { sig } from './lib/stats.js'

/** Share of GetRecords calls failed by the proxy in the faulty run: 5xx, resets and throttles. */
const FAULT_SHARE = 0.2
const SCENARIO = {
  containers: 3,
  keys: 200,
  readsPerRequest: 10,
  /**
   * One request per container about every second: 3 polls a second, with the retries of the
   * faulty run under the shard's 5 GetRecords a second, which the proxy enforces.
   */
  requestGapMs: [800, 1_200] as const,
  /** About one write every two seconds, each evicting its key in every container. */
  writeGapMs: [1_500, 2_500] as const,
  durationMs: 40_000,
  seed: 22,
}

export interface GoodputRun extends GoodputReport {
  /** Share of GetRecords calls the proxy was set to fail. */
  readonly faultShare: number
  /** GetRecords calls the proxy received in the measured phase, retries included. */
  readonly getRecords: number
  /** Calls the proxy failed, by kind, and their share of the GetRecords calls. */
  readonly faults: ProxyStats['faults']
  readonly faultedShare: number
  /** Calls refused by the shard's read limits, not injected (should be 0). */
  readonly throttledByLimits: number
}

export interface GoodputResult {
  readonly scenario: typeof SCENARIO
  /** The same scenario without faults (the ceiling the invalidations leave), then with them. */
  readonly runs: readonly GoodputRun[]
  /** Share of strict-mode reads served from the cache with 20% of GetRecords failing (≥ 0.8). */
  readonly strictHitRatioAt20pctFaults: number
  /** That, over the fault-free run's share: what the faults cost. */
  readonly retainedVsNoFaults: number
}

/**
 * Goodput under faults: strict-mode containers (`pollIntervalMs: 0`, `'bypass'`), one fresh
 * invocation per request through the Middy middleware of the built package, read through
 * kinesalite behind the limits proxy (in a child process, over loopback HTTP, with the real SDK
 * client), while a writer publishes invalidations. Once without faults, once with 20% of
 * GetRecords calls failing (5xx, connection resets and throttles, a third each). Every read is
 * checked against the acknowledged writes (test/support/goodput.ts).
 */
export const goodput = async (): Promise<GoodputResult> => {
  const { scache, createPublisher } = await loadScache()
  const host = await startKinesisHost()
  const runs: GoodputRun[] = []
  try {
    for (const faultShare of [0, FAULT_SHARE]) {
      const stream = `goodput-${runs.length}`
      await host.createStream(stream, 1)
      const proxy = await host.startProxy(0)
      const report = await runGoodput(
        { scache, createPublisher },
        {
          ...SCENARIO,
          endpoint: proxy.endpoint,
          stream,
          measuring: async () => {
            for (const rule of faultMix(faultShare)) await proxy.inject(rule)
            await proxy.resetStats()
          },
        },
      )
      const stats = await proxy.stats()
      await proxy.close()
      const getRecords = stats.calls.GetRecords ?? 0
      const faulted = Object.values(stats.faults).reduce((sum, n) => sum + n, 0)
      runs.push({
        ...report,
        hitRatio: sig(report.hitRatio, 4),
        faultShare,
        getRecords,
        faults: stats.faults,
        faultedShare: sig(getRecords === 0 ? 0 : faulted / getRecords),
        throttledByLimits: Object.values(stats.throttled).reduce((sum, n) => sum + n, 0),
      })
      process.stderr.write(
        `  ${faultShare * 100}% faults: hit ratio ${report.hitRatio.toFixed(3)}, stale ${report.stale}\n`,
      )
    }
  } finally {
    await host.close()
  }
  const [clean, faulty] = runs as [GoodputRun, GoodputRun]
  return {
    scenario: SCENARIO,
    runs,
    strictHitRatioAt20pctFaults: faulty.hitRatio,
    retainedVsNoFaults: sig(faulty.hitRatio / clean.hitRatio),
  }
}
