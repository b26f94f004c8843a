import type * as SizeModule from '../src/cache/size.js'
import { estimateBytes } from '../src/cache/size.js'
import { retainedShapes } from './lib/retained-shapes.js'
import { loadScache } from './lib/scache.js'
import { instantClient } from './lib/stub-client.js'

/**
 * How scache's size estimate compares with the heap one shape of value actually retains, in a
 * process of its own (run with --expose-gc; `npm run bench memory` runs one per shape): `count`
 * distinct values, first held in an array allocated beforehand (the value alone, against
 * `estimateBytes`), then written through `context.cache.set` into an empty cache (the whole
 * entry: value, key, wrapper and store slot, against the cache's own count of bytes). Heap is
 * heapUsed plus ArrayBuffer memory, after full collections. For a shape decoded from JSON, the
 * same values are then written through a second cache whose `sizeOf` is `estimateBytes(value,
 * { madeBy: 'json' })`, unmeasured: its count of bytes, and of the values' alone. Prints JSON.
 */
const count = Number(process.argv[2] ?? '20000')
const shape = process.argv[3] ?? ''
const make = retainedShapes[shape]
if (make === undefined) throw new Error(`memory-retained: unknown shape ${JSON.stringify(shape)}`)
const gc = globalThis.gc
if (gc === undefined) throw new Error('memory-retained: run with --expose-gc')

/** Lets pending callbacks run, then collects fully. */
const settle = async () => {
  await new Promise((resolve) => setTimeout(resolve, 10))
  for (let i = 0; i < 4; i++) gc()
}
const heap = () => {
  const memory = process.memoryUsage()
  return memory.heapUsed + memory.arrayBuffers
}

const { createScache } = await loadScache()
/** A cache that holds every value of the shape, for an hour, and never polls while measured. */
const holding = (name: string) => ({
  stream: { name, client: instantClient() },
  maxBytes: 2 ** 31,
  maxEntries: count,
  ttl: { minMs: 3_600_000, maxMs: 3_600_000 },
  pollIntervalMs: 3_600_000,
  maxStalenessMs: 3_600_000,
  log: false,
})
// The cache is built and begun before anything is measured: its first poll and its client's
// setup would otherwise land in the middle of a measurement.
const scache = createScache(holding('bench'))
const invocation = await scache.begin()
const holder: unknown[] = new Array(count).fill(0)
await settle()
let before = heap()
let estimated = 0
for (let i = 0; i < count; i++) {
  holder[i] = make(i)
  estimated += estimateBytes(holder[i])
}
await settle()
const value = (heap() - before) / count
holder.fill(0)

scache.cache.clear()
await settle()
before = heap()
for (let i = 0; i < count; i++) invocation.cache.set(`users:${i}`, make(i))
await settle()
const entry = (heap() - before) / count
if (scache.cache.size !== count) throw new Error(`memory-retained: ${shape} was not all stored`)
const entryEstimate = scache.cache.bytes / count
scache.cache.clear()
invocation.end()

/**
 * The estimates with `madeBy: 'json'`, from a copy of the size module of its own (the query
 * makes it one): the estimate remembers the key lists and short strings it has counted, and the
 * default cache's copy has seen these values already.
 */
const jsonEstimates = async (): Promise<{
  valueEstimateJson: number
  entryEstimateJson: number
}> => {
  const url = new URL('../dist/cache/size.js?madeBy=json', import.meta.url)
  const size = (await import(url.href)) as typeof SizeModule
  const json: SizeModule.EstimateOptions = { madeBy: 'json' }
  let valueBytes = 0
  const jsonCache = createScache({
    ...holding('bench-json'),
    sizeOf: (v) => {
      const bytes = size.estimateBytes(v, json)
      valueBytes += bytes
      return bytes
    },
  })
  const jsonInvocation = await jsonCache.begin()
  for (let i = 0; i < count; i++) jsonInvocation.cache.set(`users:${i}`, make(i))
  if (jsonCache.cache.size !== count)
    throw new Error(`memory-retained: ${shape} was not all stored`)
  const entryEstimateJson = jsonCache.cache.bytes / count
  jsonCache.cache.clear()
  jsonInvocation.end()
  return { valueEstimateJson: valueBytes / count, entryEstimateJson }
}

process.stdout.write(
  JSON.stringify({
    value,
    valueEstimate: estimated / count,
    entry,
    entryEstimate,
    ...(shape.endsWith('(decoded)') ? await jsonEstimates() : {}),
  }),
)
