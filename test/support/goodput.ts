import { setTimeout as sleep } from 'node:timers/promises'
import middy from '@middy/core'
import type { Context } from 'aws-lambda'
import type * as ScacheModule from '../../src/index.js'
import type { InvocationLog, WithCache } from '../../src/index.js'
import { lambdaContext } from './containers.js'
import { type FaultKind, type FaultRule, limitsProxyClient } from './limits-proxy.js'
import { seededRandom } from './prng.js'

/**
 * Goodput under faults: strict-mode containers (a poll before every request, `'bypass'`), each
 * called as Lambda calls it, one fresh invocation per request through the Middy middleware, read
 * keys through their caches while a writer bumps versions in a shared source and publishes their
 * invalidations. Every read is checked against the acknowledged writes. Shared by the benchmark
 * (bench/goodput.ts, the built package) and its correctness test (src/), which is why scache is
 * passed in.
 */

/**
 * Fault rules that fail `share` (0 to 1) of the matching calls, split evenly between the kinds
 * given. The proxy checks its rules in order, each with its own draw, so each rule's probability
 * is its share of the calls the rules before it let through.
 */
export const faultMix = (
  share: number,
  kinds: readonly FaultKind[] = ['5xx', 'reset', 'throttle'],
  operations: readonly string[] = ['GetRecords'],
): FaultRule[] => {
  let passed = 1
  return kinds.map((kind) => {
    const probability = share / kinds.length / passed
    passed -= share / kinds.length
    return { kind, operations, probability }
  })
}

/** The source of truth: a version per key, and when each version's invalidation was acknowledged. */
class VersionedSource {
  readonly #versions = new Map<string, number>()
  readonly #acks = new Map<string, number[]>()

  read(key: string): number {
    return this.#versions.get(key) ?? 0
  }

  /** Bumps the version (as a database write commits), then publishes its invalidation. */
  async write(key: string, publish: (key: string) => Promise<unknown>): Promise<void> {
    const version = this.read(key) + 1
    this.#versions.set(key, version)
    await publish(key)
    const acks = this.#acks.get(key) ?? []
    // acks[n]: when version n + 1 was acknowledged, taken after `invalidate` resolved.
    acks[version - 1] = Date.now()
    this.#acks.set(key, acks)
  }

  /** When the first version newer than `version` was acknowledged, if one was. */
  overtakenAt(key: string, version: number): number | undefined {
    return this.#acks.get(key)?.[version]
  }
}

export interface GoodputScenario {
  /** The Kinesis endpoint the containers read through (a limits proxy injecting faults). */
  readonly endpoint: string
  readonly stream: string
  readonly containers: number
  readonly keys: number
  readonly readsPerRequest: number
  /** Idle time between a container's requests, ms (uniform). */
  readonly requestGapMs: readonly [number, number]
  /** Idle time between the writer's writes, ms (uniform). */
  readonly writeGapMs: readonly [number, number]
  /** Length of the measured phase, after every container has warmed its cache… */
  readonly durationMs: number
  /** …and the least requests it makes in all (a test sized by work, not by the clock). */
  readonly minRequests?: number
  readonly seed: number
  /** Called between the warm-up and the measured phase (to start the faults). */
  readonly measuring?: () => Promise<void>
}

export interface GoodputReport {
  readonly requests: number
  /** Reads in the measured phase: hits + misses + bypassed. */
  readonly reads: number
  readonly hits: number
  readonly misses: number
  readonly bypassed: number
  /** hits / reads: the share of reads served from the cache. */
  readonly hitRatio: number
  /**
   * Reads that returned a version whose successor's invalidation was acknowledged before the
   * request began: the strict-mode bound is the request's start (kinesalite makes a record
   * readable when it acknowledges it).
   */
  readonly stale: number
  /** Writes acknowledged in the measured phase. */
  readonly writes: number
  readonly polls: number
  /** Polls that failed (a fault not absorbed by a retry); their request's reads were bypassed. */
  readonly pollsFailed: number
  /** Requests whose poll was held back by the backoff after a failure (reads bypassed). */
  readonly pollsDeferred: number
}

type Handler = (event: { keys: string[] }, context: Context) => Promise<Read[]>

interface Read {
  readonly key: string
  readonly version: number
}

export const runGoodput = async (
  lib: Pick<typeof ScacheModule, 'scache' | 'createPublisher'>,
  scenario: GoodputScenario,
): Promise<GoodputReport> => {
  const random = seededRandom(scenario.seed)
  const between = ([min, max]: readonly [number, number]) => min + random() * (max - min)
  const source = new VersionedSource()
  const keys = Array.from({ length: scenario.keys }, (_, n) => `items:${n}`)
  const pick = () => keys[Math.floor(random() * keys.length)] ?? 'items:0'
  let measured = false
  const lines: InvocationLog[] = []
  const containers = Array.from({ length: scenario.containers }, () => {
    let last: InvocationLog | undefined
    const middleware = lib.scache({
      stream: { name: scenario.stream, client: limitsProxyClient(scenario.endpoint) },
      pollIntervalMs: 0,
      onStreamError: 'bypass',
      log: (line) => {
        last = line
        if (measured) lines.push(line)
      },
    })
    const handler = middy(async (event: { keys: string[] }, context: Context & WithCache) => {
      const reads: Read[] = []
      for (const key of event.keys) {
        const version = await context.cache.getOrLoad(key, async () => source.read(key))
        reads.push({ key, version })
      }
      return reads
    }).use(middleware) as unknown as Handler
    return {
      invoke: (keys: string[]) => handler({ keys }, lambdaContext()),
      entries: () => last?.entries ?? 0,
    }
  })

  // Warm-up: every container caches every key (a request whose poll failed stores nothing).
  await Promise.all(
    containers.map(async (container) => {
      for (let attempt = 0; attempt < 20; attempt++) {
        await container.invoke(keys)
        if (container.entries() === keys.length) return
      }
      throw new Error('goodput: a container could not warm its cache')
    }),
  )
  await scenario.measuring?.()
  measured = true

  const publisher = lib.createPublisher({
    streamName: scenario.stream,
    client: limitsProxyClient(scenario.endpoint, { maxAttempts: 3 }),
  })
  const until = Date.now() + scenario.durationMs
  let writes = 0
  let requests = 0
  let stale = 0
  const running = () => Date.now() < until || requests < (scenario.minRequests ?? 0)
  await Promise.all([
    (async () => {
      while (running()) {
        await source.write(pick(), (key) => publisher.invalidate(key))
        writes++
        await sleep(between(scenario.writeGapMs))
      }
    })(),
    ...containers.map(async ({ invoke }) => {
      while (running()) {
        const begunAt = Date.now()
        const reads = await invoke(Array.from({ length: scenario.readsPerRequest }, pick))
        requests++
        for (const read of reads) {
          const overtakenAt = source.overtakenAt(read.key, read.version)
          if (overtakenAt !== undefined && overtakenAt < begunAt) stale++
        }
        await sleep(between(scenario.requestGapMs))
      }
    }),
  ])
  const sum = (field: 'hits' | 'misses' | 'bypassed') =>
    lines.reduce((total, line) => total + line[field], 0)
  const [hits, misses, bypassed] = [sum('hits'), sum('misses'), sum('bypassed')]
  const reads = hits + misses + bypassed
  return {
    requests,
    reads,
    hits,
    misses,
    bypassed,
    hitRatio: reads === 0 ? 0 : hits / reads,
    stale,
    writes,
    polls: lines.filter((line) => line.polled).length,
    pollsFailed: lines.filter((line) => line.polled && line.streamError !== undefined).length,
    pollsDeferred: lines.filter((line) => line.pollDeferred === true).length,
  }
}
