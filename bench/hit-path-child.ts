import { fileURLToPath } from 'node:url'
import { LRUCache } from 'lru-cache'
import { loadScache } from './lib/scache.js'
import { blackhole, median } from './lib/stats.js'
import { instantClient } from './lib/stub-client.js'

/**
 * One contender of the hit-path benchmark, alone in its process (`node --import tsx
 * bench/hit-path-child.ts <contender>`): V8 shares the inline caches of lru-cache's methods
 * between every LRUCache in a process, so a second, differently configured instance would slow
 * the baseline's `get`. Prints the median ns per hit of its samples.
 */
export const KEYS = 1_000
/** Reads per invocation: a handler that reads this many cached keys. */
export const GETS_PER_INVOCATION = 100
/** Invocations per sample; a sample is the median invocation's read time over its reads. */
const INVOCATIONS = 2_000
const SAMPLES = 15
const WARMUP_SAMPLES = 5

export const contenders = [
  'lru-cache get',
  'lru-cache get + entry read',
  'Map.get',
  'context.cache.get',
  'Cache.get',
] as const
export type Contender = (typeof contenders)[number]

const keys = Array.from({ length: KEYS }, (_, i) => `users:${i}`)
const value = { id: 1, name: 'Ada' }

/**
 * Each invocation awaits once before its reads, as a handler runs after Middy's `before` hooks:
 * its reads are one run of code, timed alone (the begin and end of an invocation are not).
 */
const sampleNs = async (open: Open): Promise<number> => {
  const perInvocationNs: number[] = []
  let found = 0
  for (let n = 0; n < INVOCATIONS; n++) {
    const { target, close } = await open()
    const offset = (n * GETS_PER_INVOCATION) % KEYS
    const started = process.hrtime.bigint()
    // Each process has one contender, so this call site sees one kind of `target` only.
    for (let i = 0; i < GETS_PER_INVOCATION; i++)
      if (target.get(keys[(offset + i) % KEYS] as string) !== undefined) found++
    perInvocationNs.push(Number(process.hrtime.bigint() - started))
    close()
  }
  blackhole.value = found
  // The median invocation: one the machine's other work did not preempt.
  return median(perInvocationNs) / GETS_PER_INVOCATION
}

const noop = () => {}

interface Readable {
  get(key: string): unknown
}
type Open = () => Promise<{ readonly target: Readable; readonly close: () => void }>

const opener = async (contender: Contender): Promise<Open> => {
  switch (contender) {
    case 'lru-cache get': {
      const lru = new LRUCache<string, object>({ max: 10_000 })
      for (const key of keys) lru.set(key, value)
      return async () => ({ target: lru, close: noop })
    }
    case 'lru-cache get + entry read': {
      // The least a cache does that reads its entries, which carry their expiry, through
      // lru-cache's \`get\`: read the entry it returns (lru-cache's own \`get\` never reads the
      // value it returns). No clock, no staleness bound, no counters: a floor, not a cache.
      interface Entry {
        readonly value: object
        readonly costMs: number
        readonly expiresAt: number
      }
      const lru = new LRUCache<string, Entry>({ max: 10_000 })
      const expiresAt = Date.now() + 3_600_000
      for (const key of keys) lru.set(key, { value, costMs: 0, expiresAt })
      const throughGet = {
        get: (key: string): unknown => {
          const entry = lru.get(key)
          return entry === undefined || entry.expiresAt < 0 ? undefined : entry.value
        },
      }
      return async () => ({ target: throughGet, close: noop })
    }
    case 'Map.get': {
      const map = new Map<string, object>()
      for (const key of keys) map.set(key, value)
      return async () => ({ target: map, close: noop })
    }
    case 'context.cache.get':
    case 'Cache.get': {
      const { createScache } = await loadScache()
      const scache = createScache({
        stream: { name: 'bench', client: instantClient() },
        // No poll falls due while the benchmark runs, and the cache is never too stale to read.
        pollIntervalMs: 3_600_000,
        maxStalenessMs: 3_600_000,
        ttl: { minMs: 3_600_000, maxMs: 3_600_000 },
        log: false,
      })
      const first = await scache.begin()
      for (const key of keys) first.cache.set(key, value)
      first.end()
      if (contender === 'Cache.get') {
        const store = scache.cache
        return async () => ({ target: store, close: noop })
      }
      // As Lambda calls it: a fresh request cache per invocation, from `begin()`.
      return async () => {
        const invocation = await scache.begin()
        return { target: invocation.cache, close: () => invocation.end() }
      }
    }
  }
}

const main = async (contender: Contender): Promise<void> => {
  const open = await opener(contender)
  for (let i = 0; i < WARMUP_SAMPLES; i++) await sampleNs(open)
  const samples: number[] = []
  for (let i = 0; i < SAMPLES; i++) samples.push(await sampleNs(open))
  process.stdout.write(`${median(samples)}\n`)
}

// Run as a script only; bench/hit-path.ts imports the constants.
const asked = process.argv[2]
if (process.argv[1] === fileURLToPath(import.meta.url) && asked !== undefined) {
  if (!(contenders as readonly string[]).includes(asked))
    throw new Error(`hit-path-child: unknown contender ${asked}`)
  await main(asked as Contender)
}
