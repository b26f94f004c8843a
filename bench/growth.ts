import { loadScache } from './lib/scache.js'
import { median, sig } from './lib/stats.js'
import { instantClient } from './lib/stub-client.js'

/** Rounds, interleaved between the two caches; each figure is the median round. */
const ROUNDS = 9
const POLLS_PER_ROUND = 2_000
export interface GrowthResult {
  readonly pollsPerRound: number
  readonly rounds: number
  /** CPU µs per invocation whose poll is due and reads an empty page, by entries held. */
  readonly emptyPollCpuUs: Record<string, number>
  /** An empty poll with 100k entries over one with 1 entry, CPU time (target ≤ 1.5). */
  readonly emptyPollCost100kOver1Entry: number
}

const cpuUs = (): number => {
  const { user, system } = process.cpuUsage()
  return user + system
}

const label = (entries: number): string =>
  `${entries.toLocaleString('en-US')} ${entries === 1 ? 'entry' : 'entries'}`

/**
 * What a poll costs as the cache grows (invalidations: bench/invalidation.ts). An empty poll (a due poll on
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

  const of = (name: string) => median(samples.get(name) ?? [])
  return {
    pollsPerRound: POLLS_PER_ROUND,
    rounds: ROUNDS,
    emptyPollCpuUs,
    emptyPollCost100kOver1Entry: sig(of(label(100_000)) / of(label(1))),
  }
}
