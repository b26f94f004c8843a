import { LRUCache } from 'lru-cache'
import { Bench } from 'tinybench'
import { loadScache } from './lib/scache.js'
import { blackhole, median, sig } from './lib/stats.js'
import { instantClient } from './lib/stub-client.js'

/** Keys read per timed call: a batch amortises the timer's own cost over many hits. */
const BATCH = 1_000
const KEYS = 1_000
/** Rounds of the whole set; each figure is the median of its rounds' medians. */
const ROUNDS = 3

export interface HitPathResult {
  readonly batch: number
  readonly keys: number
  /** Median ns per hit, by implementation. */
  readonly nsPerHit: Record<string, number>
  /** `context.cache.get` against raw lru-cache `get` (target ≤ 1.5). */
  readonly ratioToLruCache: number
  /** The same with an `await` between reads, so that each read is a run of code of its own. */
  readonly ratioOnePerRun: number
  readonly ratioToMap: number
}

export const hitPath = async (): Promise<HitPathResult> => {
  const { createScache } = await loadScache()
  const keys = Array.from({ length: KEYS }, (_, i) => `users:${i}`)
  const value = { id: 1, name: 'Ada' }

  const map = new Map<string, unknown>()
  const lru = new LRUCache<string, object>({ max: 10_000 })
  // lru-cache as scache configures it: per-entry TTL checked against the clock on every read.
  const lruTtl = new LRUCache<string, object>({
    max: 10_000,
    maxSize: 64 << 20,
    ttlResolution: 0,
    perf: { now: Date.now },
  })
  const scache = createScache({
    stream: { name: 'bench', client: instantClient() },
    // No poll falls due while the benchmark runs, and the cache is never too stale to read.
    pollIntervalMs: 3_600_000,
    maxStalenessMs: 3_600_000,
    ttl: { minMs: 3_600_000, maxMs: 3_600_000 },
    log: false,
  })
  const invocation = await scache.begin()
  const cache = invocation.cache
  for (const key of keys) {
    map.set(key, value)
    lru.set(key, value)
    lruTtl.set(key, value, { ttl: 3_600_000, size: 100 })
    cache.set(key, value)
  }
  const store = scache.cache

  // One loop per implementation, written out: a shared loop taking a function would make its
  // call site megamorphic and slow every contender alike.
  let found = 0
  const tasks: [string, () => void | Promise<void>][] = [
    [
      'Map.get',
      () => {
        for (let i = 0; i < BATCH; i++) if (map.get(keys[i % KEYS] as string) !== undefined) found++
      },
    ],
    [
      'lru-cache get',
      () => {
        for (let i = 0; i < BATCH; i++) if (lru.get(keys[i % KEYS] as string) !== undefined) found++
      },
    ],
    [
      'lru-cache get (ttl, ttlResolution 0)',
      () => {
        for (let i = 0; i < BATCH; i++)
          if (lruTtl.get(keys[i % KEYS] as string) !== undefined) found++
      },
    ],
    [
      'scache Cache.get (store)',
      () => {
        for (let i = 0; i < BATCH; i++)
          if (store.get(keys[i % KEYS] as string) !== undefined) found++
      },
    ],
    [
      'context.cache.get',
      () => {
        for (let i = 0; i < BATCH; i++)
          if (cache.get(keys[i % KEYS] as string) !== undefined) found++
      },
    ],
    // The per-run clock's worst case: each read in a run of code of its own, so each reads the
    // clock and queues the microtask that forgets it. The await itself is in both rows.
    [
      'lru-cache get, await between reads',
      async () => {
        for (let i = 0; i < BATCH; i++) {
          if (lru.get(keys[i % KEYS] as string) !== undefined) found++
          await undefined
        }
      },
    ],
    [
      'context.cache.get, await between reads',
      async () => {
        for (let i = 0; i < BATCH; i++) {
          if (cache.get(keys[i % KEYS] as string) !== undefined) found++
          await undefined
        }
      },
    ],
    [
      'Date.now (one clock read)',
      () => {
        for (let i = 0; i < BATCH; i++) if (Date.now() > 0) found++
      },
    ],
  ]
  const samples = new Map<string, number[]>(tasks.map(([name]) => [name, []]))
  for (let round = 0; round < ROUNDS; round++) {
    const bench = new Bench({ time: 1_000, warmup: true, warmupTime: 200 })
    for (const [name, fn] of tasks) bench.add(name, fn)
    await bench.run()
    for (const task of bench.tasks) {
      const result = task.result
      if (result.state !== 'completed') throw new Error(`${task.name}: ${result.state}`)
      samples.get(task.name)?.push((result.latency.p50 * 1e6) / BATCH)
    }
  }
  invocation.end()
  blackhole.value = found

  const nsPerHit: Record<string, number> = {}
  for (const [name, values] of samples) nsPerHit[name] = sig(median(values))

  const of = (name: string): number => nsPerHit[name] ?? Number.NaN
  return {
    batch: BATCH,
    keys: KEYS,
    nsPerHit,
    ratioToLruCache: sig(of('context.cache.get') / of('lru-cache get')),
    ratioToMap: sig(of('context.cache.get') / of('Map.get')),
    ratioOnePerRun: sig(
      of('context.cache.get, await between reads') / of('lru-cache get, await between reads'),
    ),
  }
}
