import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { startLocalKinesis } from '../infra/local/kinesis.js'
import { startLimitsProxy } from '../test/support/limits-proxy.js'
import { PerRequestReader } from './baseline/per-request-reader.js'
import { loadScache } from './lib/scache.js'
import { median, quantile, sig } from './lib/stats.js'

/** Warm polls measured per configuration, one per tick. */
const POLLS = 20
/** Time between polls: 4 per second keeps each algorithm within a shard's 5 reads per second. */
const TICK_MS = 250

export interface PollCost {
  /** Kinesis calls per warm poll, by operation, as the limits proxy counted them. */
  readonly calls: Record<string, number>
  readonly callsTotal: number
  /** Wall time of a warm poll, ms. */
  readonly p50Ms: number
  readonly p90Ms: number
  /** Calls refused by the proxy's per-shard limits (should be 0). */
  readonly throttled: number
}

export interface StreamCostRow {
  readonly shards: number
  /** Latency the proxy adds to every call, ms (0: loopback only). */
  readonly latencyMs: number
  readonly scache: PollCost
  readonly baseline: PollCost
  /** baseline calls / scache calls per warm poll (target ≥ 3 at 1 shard). */
  readonly callRatio: number
  readonly timeRatio: number
}

export interface StreamCostResult {
  readonly polls: number
  readonly tickMs: number
  readonly rows: StreamCostRow[]
  /** scache's 4-shard poll time / its 1-shard poll time, per latency (target ≤ 1.2). */
  readonly fourToOneShard: Record<string, number>
}

const perPoll = (calls: Record<string, number>, polls: number): Record<string, number> =>
  Object.fromEntries(Object.entries(calls).map(([name, count]) => [name, sig(count / polls)]))

const cost = (
  times: number[],
  calls: Record<string, number>,
  throttled: Record<string, number>,
): PollCost => {
  const perCall = perPoll(calls, times.length)
  return {
    calls: perCall,
    callsTotal: sig(Object.values(perCall).reduce((sum, n) => sum + n, 0)),
    p50Ms: sig(median(times)),
    p90Ms: sig(quantile(times, 0.9)),
    throttled: Object.values(throttled).reduce((sum, n) => sum + n, 0),
  }
}

/**
 * Steady-state stream cost of a warm request against kinesalite behind the limits proxy: scache
 * polling before every request (`pollIntervalMs: 0`) against the baseline's per-request read,
 * each on its own stream and proxy, polled alternately, with nothing new on the stream.
 */
export const streamCost = async (): Promise<StreamCostResult> => {
  const { createScache } = await loadScache()
  const kinesis = await startLocalKinesis()
  const rows: StreamCostRow[] = []
  try {
    for (const latencyMs of [0, 10]) {
      for (const shards of [1, 4]) {
        const ours = await startLimitsProxy({ target: kinesis.config.endpoint, latencyMs })
        const theirs = await startLimitsProxy({ target: kinesis.config.endpoint, latencyMs })
        try {
          const ourStream = `bench-scache-${shards}-${latencyMs}`
          const theirStream = `bench-baseline-${shards}-${latencyMs}`
          await kinesis.createStream(ourStream, shards)
          await kinesis.createStream(theirStream, shards)
          const cache = createScache({
            stream: { name: ourStream, client: ours.client() },
            pollIntervalMs: 0,
            ttl: { minMs: 3_600_000, maxMs: 3_600_000 },
            log: false,
          })
          // Something cached: a container with an empty cache skips its polls.
          const first = await cache.begin()
          first.cache.set('users:1', { id: 1 })
          first.end()
          const baseline = new PerRequestReader(theirs.client(), theirStream)
          // The first polls list the shards and take iterators; the steady state comes after.
          for (let i = 0; i < 2; i++) {
            ;(await cache.begin()).end()
            await baseline.poll()
            await sleep(TICK_MS)
          }
          ours.resetStats()
          theirs.resetStats()
          const ourTimes: number[] = []
          const theirTimes: number[] = []
          for (let i = 0; i < POLLS; i++) {
            const tick = sleep(TICK_MS)
            let started = performance.now()
            const invocation = await cache.begin()
            ourTimes.push(performance.now() - started)
            if (invocation.poll?.ok !== true) throw new Error('bench: a scache poll failed')
            invocation.end()
            started = performance.now()
            await baseline.poll()
            theirTimes.push(performance.now() - started)
            await tick
          }
          const ourStats = ours.stats()
          const theirStats = theirs.stats()
          const scache = cost(ourTimes, ourStats.calls, ourStats.throttled)
          const base = cost(theirTimes, theirStats.calls, theirStats.throttled)
          rows.push({
            shards,
            latencyMs,
            scache,
            baseline: base,
            callRatio: sig(base.callsTotal / scache.callsTotal),
            timeRatio: sig(base.p50Ms / scache.p50Ms),
          })
        } finally {
          await ours.close()
          await theirs.close()
        }
      }
    }
  } finally {
    await kinesis.close()
  }
  const fourToOneShard: Record<string, number> = {}
  for (const latencyMs of [0, 10]) {
    const one = rows.find((row) => row.shards === 1 && row.latencyMs === latencyMs)
    const four = rows.find((row) => row.shards === 4 && row.latencyMs === latencyMs)
    if (one && four) fourToOneShard[`${latencyMs}ms`] = sig(four.scache.p50Ms / one.scache.p50Ms)
  }
  return { polls: POLLS, tickMs: TICK_MS, rows, fourToOneShard }
}
