import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import type { KinesisClient } from '@aws-sdk/client-kinesis'
import { limitsProxyClient } from '../test/support/limits-proxy.js'
import { PerRequestReader } from './baseline/per-request-reader.js'
import { type RemoteProxy, startKinesisHost } from './lib/kinesis-host.js'
import { loadScache } from './lib/scache.js'
import { median, quantile, sig } from './lib/stats.js'

/** Warm polls measured per configuration, one per tick. */
const POLLS = 40
/** Time between polls: 4 per second keeps each algorithm within a shard's 5 reads per second. */
const TICK_MS = 250
const SHARDS = [1, 4] as const
/**
 * What serves GetRecords: kinesalite, which serves one call at a time, or the limits proxy
 * answering them itself (`answerReads`), at once and in parallel as Kinesis' fleet does.
 */
export type Backend = 'kinesalite' | 'proxy'

/**
 * Latency the proxy adds to each call, none (loopback) or about an in-region call, and what
 * serves the reads.
 */
const SETUPS: readonly { readonly latencyMs: number; readonly backend: Backend }[] = [
  { latencyMs: 0, backend: 'kinesalite' },
  { latencyMs: 10, backend: 'kinesalite' },
  { latencyMs: 10, backend: 'proxy' },
]

/** The key of a setup in `fourToOneShard`: `10ms`, or `10ms, reads answered by the proxy`. */
export const setupKey = (latencyMs: number, backend: Backend): string =>
  backend === 'proxy' ? `${latencyMs}ms, reads answered by the proxy` : `${latencyMs}ms`

export interface PollCost {
  /** Kinesis calls per warm poll, by operation, as the limits proxy counted them. */
  readonly calls: Record<string, number>
  readonly callsTotal: number
  /** Wall time of a warm poll, ms. */
  readonly p50Ms: number
  readonly p90Ms: number
  /** CPU of the benchmark's process during a poll (the reader and the SDK client), ms, p50. */
  readonly clientCpuMs: number
  /** CPU of the host process during a poll (kinesalite and the limits proxy), ms, p50. */
  readonly hostCpuMs: number
  /** Calls refused by the proxy's per-shard limits (should be 0). */
  readonly throttled: number
}

export interface StreamCostRow {
  readonly shards: number
  /** Latency the proxy adds to every call, ms (0: loopback only). */
  readonly latencyMs: number
  readonly backend: Backend
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
  /**
   * Host CPU of answering one CPU query of the benchmark, ms, p50: part of each hostCpuMs, which
   * is measured by a query before and after the poll.
   */
  readonly hostQueryCpuMs: number
  /** scache's 4-shard poll time / its 1-shard poll time, per setup (setupKey; target ≤ 1.2). */
  readonly fourToOneShard: Record<string, number>
}

const perPoll = (calls: Record<string, number>, polls: number): Record<string, number> =>
  Object.fromEntries(Object.entries(calls).map(([name, count]) => [name, sig(count / polls)]))

/** Wall and CPU time of each measured poll, ms. */
interface Samples {
  readonly wallMs: number[]
  readonly clientCpuMs: number[]
  readonly hostCpuMs: number[]
}

const samples = (): Samples => ({ wallMs: [], clientCpuMs: [], hostCpuMs: [] })

const cost = (
  measured: Samples,
  calls: Record<string, number>,
  throttled: Record<string, number>,
): PollCost => {
  const perCall = perPoll(calls, measured.wallMs.length)
  return {
    calls: perCall,
    callsTotal: sig(Object.values(perCall).reduce((sum, n) => sum + n, 0)),
    p50Ms: sig(median(measured.wallMs)),
    p90Ms: sig(quantile(measured.wallMs, 0.9)),
    clientCpuMs: sig(median(measured.clientCpuMs)),
    hostCpuMs: sig(median(measured.hostCpuMs)),
    throttled: Object.values(throttled).reduce((sum, n) => sum + n, 0),
  }
}

const cpuMs = (usage: NodeJS.CpuUsage): number => (usage.user + usage.system) / 1_000

/** One algorithm reading one stream, through its own proxy and client. */
interface Subject {
  readonly shards: number
  readonly proxy: RemoteProxy
  readonly client: KinesisClient
  readonly measured: Samples
  /** One warm poll: what is timed. */
  poll(): Promise<void>
  /** What follows the timed part (scache: checking the poll and ending the invocation). */
  after(): void
}

type Reader = (client: KinesisClient, stream: string) => Promise<Pick<Subject, 'poll' | 'after'>>

/**
 * Steady-state stream cost of a warm request against kinesalite behind the limits proxy, both in
 * a child process (a real Kinesis is never in its client's process): scache polling before every
 * request (`pollIntervalMs: 0`) against the baseline's per-request read, each with its own SDK
 * client, stream and proxy, with nothing new on the stream. Each poll's wall time is measured
 * here, with the CPU this process and the host process spent during it. In each setup the four
 * subjects (two algorithms, two shard counts) are polled one after the other in every tick, in an
 * order that rotates, so that a change in the machine's load, or being a tick's first poll after
 * the idle gap, colours them alike. The last setup has the proxy answer GetRecords itself: the
 * emulator serves calls one at a time, a real Kinesis serves a client's shards in parallel, and
 * only the client's side can be measured here.
 */
export const streamCost = async (): Promise<StreamCostResult> => {
  const { createScache } = await loadScache()
  const host = await startKinesisHost()
  const open: Subject[] = []
  const start = async (
    stream: string,
    shards: number,
    latencyMs: number,
    backend: Backend,
    reader: Reader,
  ): Promise<Subject> => {
    const proxy = await host.startProxy(latencyMs, backend === 'proxy')
    const client = limitsProxyClient(proxy.endpoint)
    await host.createStream(stream, shards)
    const subject = {
      shards,
      proxy,
      client,
      measured: samples(),
      ...(await reader(client, stream)),
    }
    open.push(subject)
    return subject
  }
  const scacheReader: Reader = async (client, stream) => {
    const cache = createScache({
      stream: { name: stream, client },
      pollIntervalMs: 0,
      ttl: { minMs: 3_600_000, maxMs: 3_600_000 },
      log: false,
    })
    // Something cached: a container with an empty cache skips its polls.
    let invocation = await cache.begin()
    invocation.cache.set('users:1', { id: 1 })
    invocation.end()
    return {
      async poll() {
        invocation = await cache.begin()
      },
      after() {
        if (invocation.poll?.ok !== true) throw new Error('bench: a scache poll failed')
        invocation.end()
      },
    }
  }
  const baselineReader: Reader = async (client, stream) => {
    const baseline = new PerRequestReader(client, stream)
    return {
      async poll() {
        await baseline.poll()
      },
      after() {},
    }
  }
  /** Runs one subject's poll, adding its wall time and CPU to its samples. */
  const measure = async (subject: Subject): Promise<void> => {
    const hostBefore = await host.cpuMs()
    const cpuBefore = process.cpuUsage()
    const started = performance.now()
    await subject.poll()
    subject.measured.wallMs.push(performance.now() - started)
    subject.measured.clientCpuMs.push(cpuMs(process.cpuUsage(cpuBefore)))
    subject.measured.hostCpuMs.push((await host.cpuMs()) - hostBefore)
    subject.after()
  }
  const rows: StreamCostRow[] = []
  const queries: number[] = []
  try {
    for (let i = 0; i < 20; i++) {
      const before = await host.cpuMs()
      queries.push((await host.cpuMs()) - before)
    }
    for (const { latencyMs, backend } of SETUPS) {
      const pairs: { ours: Subject; theirs: Subject }[] = []
      for (const shards of SHARDS) {
        const name = `${shards}-${latencyMs}-${backend}`
        pairs.push({
          ours: await start(`bench-scache-${name}`, shards, latencyMs, backend, scacheReader),
          theirs: await start(`bench-baseline-${name}`, shards, latencyMs, backend, baselineReader),
        })
      }
      const subjects = pairs.flatMap(({ ours, theirs }) => [ours, theirs])
      // The first polls list the shards and take iterators; the steady state comes after.
      for (let i = 0; i < 2; i++) {
        for (const subject of subjects) {
          await subject.poll()
          subject.after()
        }
        await sleep(TICK_MS)
      }
      for (const subject of subjects) await subject.proxy.resetStats()
      for (let i = 0; i < POLLS; i++) {
        const tick = sleep(TICK_MS)
        for (let j = 0; j < subjects.length; j++) {
          const subject = subjects[(i + j) % subjects.length]
          if (subject !== undefined) await measure(subject)
        }
        await tick
      }
      for (const { ours, theirs } of pairs) {
        const ourStats = await ours.proxy.stats()
        const theirStats = await theirs.proxy.stats()
        const scache = cost(ours.measured, ourStats.calls, ourStats.throttled)
        const baseline = cost(theirs.measured, theirStats.calls, theirStats.throttled)
        rows.push({
          shards: ours.shards,
          latencyMs,
          backend,
          scache,
          baseline,
          callRatio: sig(baseline.callsTotal / scache.callsTotal),
          timeRatio: sig(baseline.p50Ms / scache.p50Ms),
        })
      }
      while (open.length > 0) {
        const subject = open.pop()
        subject?.client.destroy()
        await subject?.proxy.close()
      }
    }
  } finally {
    for (const subject of open) subject.client.destroy()
    await host.close()
  }
  const fourToOneShard: Record<string, number> = {}
  for (const { latencyMs, backend } of SETUPS) {
    const of = (shards: number) =>
      rows.find(
        (row) => row.shards === shards && row.latencyMs === latencyMs && row.backend === backend,
      )
    const one = of(1)
    const four = of(4)
    if (one && four)
      fourToOneShard[setupKey(latencyMs, backend)] = sig(four.scache.p50Ms / one.scache.p50Ms)
  }
  return {
    polls: POLLS,
    tickMs: TICK_MS,
    rows,
    hostQueryCpuMs: sig(median(queries)),
    fourToOneShard,
  }
}
