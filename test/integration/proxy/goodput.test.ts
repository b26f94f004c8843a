import { afterEach, describe, expect, it } from 'vitest'
import { createPublisher, scache } from '../../../src/index.js'
import { faultMix, runGoodput } from '../../support/goodput.js'
import { useKinesis } from '../../support/kinesis.js'
import { type LimitsProxy, startLimitsProxy } from '../../support/limits-proxy.js'

const kinesis = useKinesis()
let proxy: LimitsProxy | undefined
afterEach(async () => {
  await proxy?.close()
})

describe('strict mode with 20% of GetRecords failing (5xx, resets, throttles)', () => {
  it('serves no stale read, and still serves from the cache', async () => {
    const stream = await kinesis.createStream(1)
    // No read limits: the faults are the injected ones only.
    const started = await startLimitsProxy({
      target: kinesis.endpoint,
      enforceLimits: false,
      seed: 22,
    })
    proxy = started
    const report = await runGoodput(
      { scache, createPublisher },
      {
        endpoint: started.endpoint,
        stream,
        containers: 3,
        keys: 40,
        readsPerRequest: 5,
        requestGapMs: [20, 80],
        writeGapMs: [20, 60],
        durationMs: 0,
        // About 150 GetRecords calls: each kind of fault occurs (10 expected per kind).
        minRequests: 120,
        seed: 22,
        measuring: async () => {
          for (const rule of faultMix(0.2)) started.inject(rule)
          started.resetStats()
        },
      },
    )
    const stats = started.stats()
    console.info('goodput at 20% faults', JSON.stringify({ report, stats }))
    expect(report.stale).toBe(0)
    // The faults were there, of every kind, and some polls failed for them…
    expect(stats.faults['5xx']).toBeGreaterThan(0)
    expect(stats.faults.reset).toBeGreaterThan(0)
    expect(stats.faults.throttle).toBeGreaterThan(0)
    expect(report.pollsFailed).toBeGreaterThan(0)
    // …and the invalidations were read: writes happened, and every read was checked.
    expect(report.writes).toBeGreaterThan(0)
    expect(report.reads).toBe(report.requests * 5)
    // The cache was used (how much is the benchmark's to measure, not a test's).
    expect(report.hits).toBeGreaterThan(0)
  })
})
