import type { Invalidation } from '../src/record/index.js'
import { loadScache } from './lib/scache.js'
import { median, sig } from './lib/stats.js'
import { instantClient } from './lib/stub-client.js'

/** Rounds, interleaved between the two caches; each figure is the median round. */
const ROUNDS = 9
const POLLS_PER_ROUND = 2_000
/** Entries held, and a prefix that matches 11 of their keys (`users:12`: 12 and 120…129). */
const PREFIX_SIZES = [
  [1_000, 'users:12'],
  [100_000, 'users:1234'],
  [1_000_000, 'users:12345'],
] as const
/** Prefix invalidations per size: up to this many, fewer once they have taken the budget. */
const PREFIX_ROUNDS = 200
const PREFIX_MIN_ROUNDS = 5
const PREFIX_BUDGET_MS = 5_000

export interface GrowthResult {
  readonly pollsPerRound: number
  readonly rounds: number
  /** CPU µs per invocation whose poll is due and reads an empty page, by entries held. */
  readonly emptyPollCpuUs: Record<string, number>
  /** An empty poll with 100k entries over one with 1 entry, CPU time (target ≤ 1.5). */
  readonly emptyPollCost100kOver1Entry: number
  /**
   * µs per prefix invalidation (`Cache.invalidate`) evicting 11 entries, by entries held: the
   * median of its rounds, the 11 entries put back between them.
   */
  readonly prefixInvalidationUs: Record<string, number>
  /** Rounds each size of `prefixInvalidationUs` ran in its budget. */
  readonly prefixRounds: Record<string, number>
}

const cpuUs = (): number => {
  const { user, system } = process.cpuUsage()
  return user + system
}

const label = (entries: number): string =>
  `${entries.toLocaleString('en-US')} ${entries === 1 ? 'entry' : 'entries'}`

/**
 * What a poll and a prefix invalidation cost as the cache grows. An empty poll (a due poll on
 * every invocation, `pollIntervalMs: 0`, answered at once by a stubbed client with an empty page)
 * with 1 entry and with 100,000, in CPU time (`process.cpuUsage`), the two interleaved in one
 * process so that the machine's load falls on both.
 */
export const growth = async (): Promise<GrowthResult> => {
  const { createScache } = await loadScache()
  const instance = async (entries: number) => {
    const scache = createScache({
      stream: { name: 'bench', client: instantClient() },
      pollIntervalMs: 0,
      maxEntries: entries + 1,
      maxBytes: 1 << 30,
      log: false,
    })
    const first = await scache.begin()
    for (let i = 0; i < entries; i++) first.cache.set(`users:${i}`, i)
    first.end()
    return scache
  }
  const contenders = [
    { name: label(1), scache: await instance(1) },
    { name: label(100_000), scache: await instance(100_000) },
  ]
  const samples = new Map<string, number[]>(contenders.map(({ name }) => [name, []]))
  for (let round = 0; round < ROUNDS; round++)
    for (let i = 0; i < contenders.length; i++) {
      const { name, scache } = contenders[(i + round) % contenders.length] as (typeof contenders)[0]
      const started = cpuUs()
      for (let n = 0; n < POLLS_PER_ROUND; n++) {
        const invocation = await scache.begin()
        if (invocation.poll === undefined) throw new Error('bench: the poll did not run')
        invocation.end()
      }
      samples.get(name)?.push((cpuUs() - started) / POLLS_PER_ROUND)
    }
  const emptyPollCpuUs: Record<string, number> = {}
  for (const [name, values] of samples) emptyPollCpuUs[name] = sig(median(values))
  contenders.length = 0

  const prefixInvalidationUs: Record<string, number> = {}
  const prefixRounds: Record<string, number> = {}
  for (const [size, prefix] of PREFIX_SIZES) {
    const cache = (await instance(size)).cache
    const matching: string[] = []
    for (let i = 0; i < size; i++) if (`users:${i}`.startsWith(prefix)) matching.push(`users:${i}`)
    const invalidation: Invalidation = { keys: [], prefixes: [prefix], all: false }
    const times: number[] = []
    const budgetEnds = performance.now() + PREFIX_BUDGET_MS
    while (
      times.length < PREFIX_MIN_ROUNDS ||
      (times.length < PREFIX_ROUNDS && performance.now() < budgetEnds)
    ) {
      const started = process.hrtime.bigint()
      const evicted = cache.invalidate(invalidation)
      times.push(Number(process.hrtime.bigint() - started) / 1_000)
      if (evicted !== matching.length) throw new Error(`bench: evicted ${evicted}`)
      for (const key of matching) cache.set(key, 0)
    }
    prefixInvalidationUs[label(size)] = sig(median(times))
    prefixRounds[label(size)] = times.length
  }
  const of = (name: string) => median(samples.get(name) ?? [])
  return {
    pollsPerRound: POLLS_PER_ROUND,
    rounds: ROUNDS,
    emptyPollCpuUs,
    emptyPollCost100kOver1Entry: sig(of(label(100_000)) / of(label(1))),
    prefixInvalidationUs,
    prefixRounds,
  }
}
