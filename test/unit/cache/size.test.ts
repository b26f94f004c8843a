import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { Cache, estimateBytes } from '../../../src/cache/index.js'

const sizeModule = join(import.meta.dirname, '../../../src/cache/size.ts')

/** Runs `code` (with `estimateBytes` in scope) in a child whose heap is capped at `heapMb`. */
const inSmallHeap = (code: string, heapMb: number) =>
  spawnSync(
    process.execPath,
    [
      '--import',
      'tsx',
      `--max-old-space-size=${heapMb}`,
      '--input-type=module',
      '-e',
      `import { estimateBytes } from ${JSON.stringify(sizeModule)}\n${code}`,
    ],
    { encoding: 'utf8', timeout: 60_000 },
  )

const big = 'x'.repeat(100_000)

describe('estimateBytes: sparse arrays', () => {
  it('refuses an array of length 2^32 − 1 without walking its holes, in a 64 MiB heap', () => {
    // Expanding every slot pushes 4 billion holes: an out-of-memory crash, not an answer.
    const result = inSmallHeap(
      'const a = []; a[2 ** 32 - 2] = 1; console.log(String(estimateBytes(a)))',
      64,
    )
    expect(result.stderr).not.toMatch(/heap out of memory|FATAL/i)
    expect(result.status).toBe(0)
    expect(result.stdout.trim()).toBe('Infinity')
  })

  it('refuses a sparse array whose length exceeds the node budget, and sizes a small one', () => {
    const sparse: number[] = []
    sparse[2 ** 26] = 1
    expect(estimateBytes(sparse)).toBe(Number.POSITIVE_INFINITY)
    const holey: number[] = []
    holey[9] = 1
    // All ten slots are paid for, holes included.
    expect(estimateBytes(holey)).toBeGreaterThanOrEqual(8 * 10)
    expect(Number.isFinite(estimateBytes(holey))).toBe(true)
  })
})

describe('estimateBytes: what it cannot see, it refuses', () => {
  class Holder {
    readonly #payload: string
    constructor(payload: string) {
      this.#payload = payload
    }
    get length(): number {
      return this.#payload.length
    }
  }

  it('refuses class instances (#private fields are out of its sight)', () => {
    expect(estimateBytes(new Holder(big))).toBe(Number.POSITIVE_INFINITY)
    expect(estimateBytes({ nested: [new Holder('')] })).toBe(Number.POSITIVE_INFINITY)
    expect(estimateBytes(new (class extends Map {})())).toBe(Number.POSITIVE_INFINITY)
    expect(estimateBytes(new (class extends Array {})())).toBe(Number.POSITIVE_INFINITY)
    expect(estimateBytes(new WeakMap())).toBe(Number.POSITIVE_INFINITY)
    expect(estimateBytes(Promise.resolve(big))).toBe(Number.POSITIVE_INFINITY)
  })

  it('refuses functions, accessors and proxies', () => {
    expect(estimateBytes({ f: () => big })).toBe(Number.POSITIVE_INFINITY)
    expect(
      estimateBytes(
        Object.defineProperty({}, 'lazy', {
          get: () => big,
          enumerable: true,
        }),
      ),
    ).toBe(Number.POSITIVE_INFINITY)
    expect(estimateBytes(new Proxy({}, {}))).toBe(Number.POSITIVE_INFINITY)
    expect(estimateBytes(new Proxy([], {}))).toBe(Number.POSITIVE_INFINITY)
  })

  it('counts symbol-keyed, non-enumerable and extra array properties', () => {
    // One-byte strings: a byte a character.
    const floor = big.length
    expect(estimateBytes({ [Symbol('payload')]: big })).toBeGreaterThanOrEqual(floor)
    expect(
      estimateBytes(Object.defineProperty({}, 'hidden', { value: big, enumerable: false })),
    ).toBeGreaterThanOrEqual(floor)
    expect(estimateBytes(Object.assign([1, 2], { extra: big }))).toBeGreaterThanOrEqual(floor)
    expect(estimateBytes(Object.assign(new Map(), { extra: big }))).toBeGreaterThanOrEqual(floor)
    expect(estimateBytes(Symbol(big))).toBeGreaterThanOrEqual(floor)
  })

  it('still sizes plain data: objects, arrays, Map, Set, Date, typed arrays, Buffer', () => {
    const values: unknown[] = [
      { id: 1, name: 'n', tags: ['a', 'b'], at: new Date(0) },
      Object.assign(Object.create(null) as object, { a: 1 }),
      new Map([['k', { v: 1 }]]),
      new Set([1, 2, 3]),
      new Uint8Array(100),
      new Float64Array(10),
      Buffer.from('hello'),
      new DataView(new ArrayBuffer(8)),
      new ArrayBuffer(16),
      [null, undefined, true, 1.5, 2n],
    ]
    for (const value of values) expect(Number.isFinite(estimateBytes(value))).toBe(true)
    expect(estimateBytes(Buffer.alloc(10_000))).toBeGreaterThanOrEqual(10_000)
  })
})

describe('maxBytes holds for values with hidden fields', () => {
  it('does not store class instances by default: 200 × 100 KB of #private data stay out', () => {
    class Session {
      readonly #blob: string
      constructor(blob: string) {
        this.#blob = blob
      }
      toString(): string {
        return this.#blob.slice(0, 1)
      }
    }
    const maxBytes = 1_000_000
    const cache = new Cache({ ttl: { minMs: 60_000, maxMs: 60_000 }, maxEntries: 1_000, maxBytes })
    let stored = 0
    for (let i = 0; i < 200; i++) {
      if (cache.set(`s:${i}`, new Session(`${i}${big}`))) stored++
    }
    expect(stored).toBe(0)
    expect(cache.size).toBe(0)
    // With a `sizeOf` that knows the class, they are stored, and the budget holds.
    const sized = new Cache({
      ttl: { minMs: 60_000, maxMs: 60_000 },
      maxEntries: 1_000,
      maxBytes,
      sizeOf: (value) => (value instanceof Session ? 2 * (big.length + 4) : estimateBytes(value)),
    })
    for (let i = 0; i < 200; i++) sized.set(`s:${i}`, new Session(`${i}${big}`))
    expect(sized.size).toBeGreaterThan(0)
    expect(sized.size * 2 * big.length).toBeLessThanOrEqual(maxBytes)
  })
})

describe('estimateBytes against the heap', () => {
  // Entries written through a Cache in a clean child (--expose-gc), heap measured after full
  // collections, against the bytes the cache counts: the calibration bench/memory-retained.ts
  // measures for more shapes. The band is the target (±20 %) with a margin for the measurement.
  const cacheModule = join(import.meta.dirname, '../../../src/cache/index.ts')
  const shapes: Record<string, string> = {
    'user record': `({ id: i, name: 'user ' + i, email: 'user' + i + '@example.com', roles: ['reader', 'writer'], address: { street: i + ' Main Street', city: 'Springfield', zip: String(10000 + i) }, bio: 'y'.repeat(600) })`,
    '1 KB string': `i + ':' + 'x'.repeat(1000)`,
    'object of 30 numbers': `Object.fromEntries(Array.from({ length: 30 }, (_, k) => ['f' + k, i + k]))`,
    'array of 20 objects': `Array.from({ length: 20 }, (_, k) => ({ id: i * 20 + k, tag: 't' + k }))`,
  }
  for (const [shape, make] of Object.entries(shapes)) {
    it(`holds ${shape} entries within 0.75 to 1.25 of the estimate`, () => {
      const code = `
import { Cache } from ${JSON.stringify(cacheModule)}
const count = 10000
const cache = new Cache({ ttl: { minMs: 3600000, maxMs: 3600000 }, maxEntries: count, maxBytes: 2 ** 31 })
const heap = () => { const m = process.memoryUsage(); return m.heapUsed + m.arrayBuffers }
const settle = () => { for (let i = 0; i < 4; i++) globalThis.gc() }
settle()
const before = heap()
for (let i = 0; i < count; i++) cache.set('users:' + i, JSON.parse(JSON.stringify(${make})))
settle()
console.log(JSON.stringify({ held: heap() - before, counted: cache.bytes, size: cache.size }))`
      const result = spawnSync(
        process.execPath,
        ['--expose-gc', '--import', 'tsx', '--input-type=module', '-e', code],
        { encoding: 'utf8', timeout: 120_000 },
      )
      expect(result.status, result.stderr).toBe(0)
      const { held, counted, size } = JSON.parse(result.stdout) as {
        held: number
        counted: number
        size: number
      }
      expect(size).toBe(10_000)
      expect(held / counted).toBeGreaterThan(0.75)
      expect(held / counted).toBeLessThan(1.25)
    })
  }
})
