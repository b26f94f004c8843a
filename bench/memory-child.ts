import { existsSync, readFileSync } from 'node:fs'
import { getHeapSpaceStatistics } from 'node:v8'
import { estimateBytes } from '../src/cache/size.js'
import { loadScache } from './lib/scache.js'
import { instantClient } from './lib/stub-client.js'
import { decoded, userRecord } from './lib/values.js'

/**
 * One memory measurement, in its own process (run with --expose-gc): `empty` builds the cache and
 * stops; `filled` then writes `factor` × maxBytes of values through `context.cache.set`; `sink`
 * generates and writes the same values the same way but evicts each as the next is written, so
 * that the process allocates and collects what `filled` does while the cache keeps one value. Prints the process's
 * memory after full collections, as JSON: V8's heap space by space, and (on Linux) the resident
 * memory that is anonymous (heap, malloc) or file-backed (the binary and libraries).
 */
const [mode = 'empty', shape = 'objects', maxBytesArg = '33554432', factorArg = '10'] =
  process.argv.slice(2)
const maxBytes = Number(maxBytesArg)
const factor = Number(factorArg)
const gc = globalThis.gc
if (gc === undefined) throw new Error('memory-child: run with --expose-gc')

// Values as a handler gets them: decoded from a response.
const value = (i: number): unknown =>
  decoded(shape === 'strings' ? `${i}:${'x'.repeat(1_000)}` : userRecord(i))

/** Resident anonymous and file-backed memory, bytes; undefined where /proc is not there. */
const resident = (): { anon: number; file: number } | undefined => {
  if (!existsSync('/proc/self/status')) return undefined
  const status = readFileSync('/proc/self/status', 'utf8')
  const kib = (field: string) =>
    Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN) * 1024
  return { anon: kib('RssAnon'), file: kib('RssFile') }
}

const { createScache } = await loadScache()
const scache = createScache({
  stream: { name: 'bench', client: instantClient() },
  maxBytes,
  // Room for every entry the byte budget allows: the bytes bind, not the count. (lru-cache
  // allocates its slots up front, so this is in the empty baseline too.)
  maxEntries: 100_000,
  ttl: { minMs: 3_600_000, maxMs: 3_600_000 },
  pollIntervalMs: 3_600_000,
  maxStalenessMs: 3_600_000,
  log: false,
})
const invocation = await scache.begin()
let written = 0
let entries = 0
if (mode === 'filled' || mode === 'sink') {
  const sink = mode === 'sink'
  for (let i = 0; written < factor * maxBytes; i++) {
    const v = value(i)
    written += estimateBytes(v)
    const key = `users:${i}`
    invocation.cache.set(key, v)
    // The sink evicts each value as the next is written: evicting a store's last entry would
    // make lru-cache clear all its maxEntries slots, every time.
    if (sink && i > 0) invocation.cache.evict(`users:${i - 1}`)
    entries++
  }
}
for (let i = 0; i < 3; i++) gc()
await new Promise((resolve) => setTimeout(resolve, 50))
gc()
const memory = process.memoryUsage()
const spaces = Object.fromEntries(
  getHeapSpaceStatistics().map((space) => [
    space.space_name,
    { committed: space.physical_space_size, used: space.space_used_size },
  ]),
)
process.stdout.write(
  JSON.stringify({
    rss: memory.rss,
    heapUsed: memory.heapUsed,
    heapTotal: memory.heapTotal,
    external: memory.external,
    resident: resident(),
    spaces,
    written,
    writes: entries,
    held: scache.cache.size,
    estimatedBytes: scache.cache.bytes,
  }),
)
invocation.end()
