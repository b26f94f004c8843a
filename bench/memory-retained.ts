import { estimateBytes } from '../src/cache/size.js'
import { loadScache } from './lib/scache.js'
import { instantClient } from './lib/stub-client.js'
import { decoded, userRecord } from './lib/values.js'

/**
 * How scache's size estimate compares with the heap values actually retain, shape by shape, in
 * one process (run with --expose-gc): `count` distinct values of each shape, first held in an
 * array allocated beforehand (the value alone, against `estimateBytes`), then written through
 * `context.cache.set` into one cache emptied before each shape (the whole entry: value, key,
 * wrapper and store slot,
 * against the cache's own count of bytes). Heap is heapUsed plus ArrayBuffer memory, after full
 * collections. Prints JSON.
 */
const count = Number(process.argv[2] ?? '20000')
const gc = globalThis.gc
if (gc === undefined) throw new Error('memory-retained: run with --expose-gc')

const assigned = (i: number, properties: number): Record<string, unknown> => {
  const object: Record<string, unknown> = {}
  for (let k = 0; k < properties; k++) object[`field${k}`] = `v${i}`
  return object
}

/** Each shape's values, distinct per i; "decoded" ones went through JSON, as from a response. */
const retainedShapes: Record<string, (i: number) => unknown> = {
  'number (fractional)': (i) => i + 0.5,
  'null (not found)': () => null,
  'short string (decoded)': (i) => decoded(`u${i}`),
  '1 KB one-byte string (decoded)': (i) => decoded(`${i}:${'x'.repeat(1_000)}`),
  '1 KB two-byte string (decoded)': (i) => decoded(`${i}:${'€'.repeat(1_000)}`),
  'small object (decoded)': (i) => decoded({ id: i, ok: true }),
  'user record (decoded)': (i) => decoded(userRecord(i)),
  'object, 100 properties (decoded)': (i) =>
    decoded(Object.fromEntries(Array.from({ length: 100 }, (_, k) => [`field${k}`, i + k]))),
  'object, 30 properties set one by one': (i) => assigned(i, 30),
  'object, 10 unique keys (decoded)': (i) =>
    decoded(Object.fromEntries(Array.from({ length: 10 }, (_, k) => [`id-${i}-${k}`, k]))),
  'object, 4 properties after a delete': (i) => {
    const object: Record<string, unknown> = { a: i, b: i + 1, c: i + 2, d: i + 3, e: i + 4 }
    delete object.b
    return object
  },
  'nested, 4 levels (decoded)': (i) => decoded({ a: { b: { c: { d: i, e: `x${i}` } } } }),
  'array of 100 integers (decoded)': (i) => decoded(Array.from({ length: 100 }, (_, k) => i + k)),
  'array of 20 objects (decoded)': (i) =>
    decoded(Array.from({ length: 20 }, (_, k) => ({ id: i * 20 + k, tag: `t${k}` }))),
  'array of 3 strings grown by push': (i) => {
    const array: string[] = []
    array.push(`a${i}`, `b${i}`, `c${i}`)
    return array
  },
  'Map of 20 entries': (i) => new Map(Array.from({ length: 20 }, (_, k) => [`k${k}`, i + k])),
  Date: (i) => new Date(1.7e12 + i),
  'Buffer of 100 bytes': (i) => Buffer.alloc(100, i),
}

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
// One cache for every shape, emptied before each: a cache built and begun here would have its
// first poll and its client's setup land in the middle of a measurement.
const scache = createScache({
  stream: { name: 'bench', client: instantClient() },
  maxBytes: 2 ** 31,
  maxEntries: count,
  ttl: { minMs: 3_600_000, maxMs: 3_600_000 },
  pollIntervalMs: 3_600_000,
  maxStalenessMs: 3_600_000,
  log: false,
})
const invocation = await scache.begin()
const out: Record<
  string,
  { value: number; valueEstimate: number; entry: number; entryEstimate: number }
> = {}
for (const [shape, make] of Object.entries(retainedShapes)) {
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
  out[shape] = {
    value,
    valueEstimate: estimated / count,
    entry,
    entryEstimate: scache.cache.bytes / count,
  }
}
scache.cache.clear()
invocation.end()
process.stdout.write(JSON.stringify(out))
