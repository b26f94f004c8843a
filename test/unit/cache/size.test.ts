import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { Cache, estimateBytes } from '../../../src/cache/index.js'
import {
  DICTIONARY_PROPERTIES,
  type EstimateOptions,
  JSON_DICTIONARY_PROPERTIES,
} from '../../../src/cache/size.js'
import { ScacheOptionsError } from '../../../src/errors.js'

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

/** A plain object of `count` properties `${prefix}0`… set one by one, each `value`. */
const withKeys = (prefix: string, count: number, value: unknown = 1): Record<string, unknown> => {
  const object: Record<string, unknown> = {}
  for (let k = 0; k < count; k++) object[`${prefix}${k}`] = value
  return object
}

/** The estimate once the key list (hidden class, key strings) has been counted by a twin. */
const withKnownKeys = (make: () => object): number => {
  estimateBytes(make())
  return estimateBytes(make())
}

describe('estimateBytes: V8 object layouts', () => {
  it('counts an object of DICTIONARY_PROPERTIES properties as a hash table, several times its fast-mode twin', () => {
    const fast = withKnownKeys(() => withKeys('fastTwin', DICTIONARY_PROPERTIES - 1))
    const dictionary = withKnownKeys(() => withKeys('dictTwin', DICTIONARY_PROPERTIES))
    // One more property in fast mode is one more 8-byte slot; in dictionary mode, the table.
    expect(dictionary).toBeGreaterThan(4 * fast)
  })

  it('counts an object with a null prototype as a hash table, more than its plain twin', () => {
    const plain = withKnownKeys(() => withKeys('nullTwin', 5))
    const dictionary = withKnownKeys(() =>
      Object.assign(Object.create(null) as object, withKeys('nullTwin', 5)),
    )
    expect(dictionary).toBeGreaterThan(2 * plain)
  })

  it("grows a dictionary's table by powers of two, 1.5 slots a property at least", () => {
    const size = (count: number) => withKnownKeys(() => withKeys(`grow${count}_`, count))
    // 32 slots hold up to 21 properties; the 22nd doubles the table.
    expect(size(21)).toBe(size(20))
    expect(size(22) - size(21)).toBe(24 * 32)
    expect(size(43)).toBe(size(22))
  })

  it('counts the key strings of a dictionary once per key list, unique keys every time', () => {
    const keys = 'sharedDictionaryKey'
    const first = estimateBytes(withKeys(keys, 30))
    const again = estimateBytes(withKeys(keys, 30))
    expect(first - again).toBeGreaterThanOrEqual(30 * keys.length)
    const unique = (n: number) => estimateBytes(withKeys(`uniqueDictionaryKey${n}_`, 30))
    unique(0)
    expect(unique(1)).toBeGreaterThan(again)
  })

  it('counts integer keys in a flat store when dense, in a hash table when they are sparse ids', () => {
    const dense = withKnownKeys(() => JSON.parse('{"0":1,"1":1,"2":1,"3":1}') as object)
    const ids = withKnownKeys(
      () => JSON.parse('{"100000":1,"100001":1,"100002":1,"100003":1}') as object,
    )
    expect(ids).toBeGreaterThan(dense)
    // A flat store counts its holes: up to the highest index.
    const holey = withKnownKeys(() => JSON.parse('{"0":1,"30":1}') as object)
    expect(holey).toBeGreaterThan(dense + 8 * 25)
  })

  it('counts a short string at each repeat in the value that brings it, once across values', () => {
    // Built in code, `v${i}` is a new copy at each evaluation; JSON.parse would share one.
    const copies = (n: number) => Array.from({ length: n }, () => `rep${'x'.repeat(3)}`)
    const one = estimateBytes(['rep-one'])
    const first = estimateBytes(copies(10))
    expect(first - one).toBeGreaterThanOrEqual(9 * 24)
    // A later value with the same strings: counted already (interned by JSON.parse, or shared).
    expect(estimateBytes(copies(10))).toBeLessThan(first - 9 * 24)
  })
})

describe("estimateBytes: madeBy 'json'", () => {
  const json: EstimateOptions = { madeBy: 'json' }
  /** A plain object of `count` integer properties `${prefix}0`…, as JSON.parse decodes it. */
  const decodedObject = (prefix: string, count: number): object =>
    JSON.parse(JSON.stringify(withKeys(prefix, count, 7))) as object
  /** Both estimates of `make()`, each once the key lists (both layouts) are counted. */
  const both = (make: () => unknown): { any: number; json: number } => {
    estimateBytes(make())
    estimateBytes(make(), json)
    return { any: estimateBytes(make()), json: estimateBytes(make(), json) }
  }
  // The object (24 bytes) and a slot a property, in the object: small integers need no more.
  const fast = (count: number) => 24 + 8 * count
  const table = (count: number) =>
    88 + 24 * Math.max(4, 2 ** Math.ceil(Math.log2(count + Math.floor(count / 2))))

  it('counts a decoded object of 30 or 100 properties in fast mode, not as a hash table', () => {
    for (const count of [30, 100]) {
      const sizes = both(() => decodedObject(`jsonFast${count}_`, count))
      expect(sizes.json, `${count} properties`).toBe(fast(count))
      expect(sizes.any, `${count} properties`).toBe(table(count))
    }
  })

  it('counts the hidden class of a decoded object of 30 properties once per key list', () => {
    const first = estimateBytes(decodedObject('jsonClass', 30), json)
    const again = estimateBytes(decodedObject('jsonClass', 30), json)
    expect(again).toBe(fast(30))
    // The class (104), 40 bytes of descriptors a key, the keys' strings.
    expect(first - again).toBeGreaterThanOrEqual(104 + 40 * 30 + 30 * 'jsonClass'.length)
  })

  it(`counts from ${JSON_DICTIONARY_PROPERTIES} properties as a hash table, as by default`, () => {
    const below = both(() => decodedObject('jsonEdge', JSON_DICTIONARY_PROPERTIES - 1))
    expect(below.json).toBe(fast(JSON_DICTIONARY_PROPERTIES - 1))
    for (const count of [JSON_DICTIONARY_PROPERTIES, 200]) {
      const sizes = both(() => decodedObject(`jsonDict${count}_`, count))
      expect(sizes.json, `${count} properties`).toBe(table(count))
      expect(sizes.json, `${count} properties`).toBe(sizes.any)
    }
  })

  it('counts integer keys apart from named properties, as JSON.parse does', () => {
    // 127 named properties and 10 elements: fast, the elements in a store of their own.
    const make = () => {
      const text = JSON.stringify(withKeys('jsonMixed', JSON_DICTIONARY_PROPERTIES - 1, 7))
      return JSON.parse(
        `{"0":1,"1":1,"2":1,"3":1,"4":1,"5":1,"6":1,"7":1,"8":1,"9":1,${text.slice(1)}`,
      )
    }
    expect(both(make).json).toBe(fast(JSON_DICTIONARY_PROPERTIES - 1) + 16 + 8 * 10)
  })

  it('changes nothing below 20 properties', () => {
    for (const count of [0, 1, 5, DICTIONARY_PROPERTIES - 1]) {
      const sizes = both(() => decodedObject(`jsonSmall${count}_`, count))
      expect(sizes.json, `${count} properties`).toBe(sizes.any)
      expect(sizes.json, `${count} properties`).toBe(fast(count))
    }
  })

  it('counts a decoded array at exactly its length: no spare capacity', () => {
    for (const length of [1, 3, 100, 1_000]) {
      const text = JSON.stringify(Array.from({ length }, (_, i) => i))
      const sizes = both(() => JSON.parse(text))
      // The array (32 bytes), its store's header (16) and a slot an element.
      expect(sizes.json, `${length} integers`).toBe(48 + 8 * length)
      expect(sizes.any - sizes.json, `${length} integers`).toBe(8 * (Math.floor(length / 8) + 16))
    }
    // An empty array has no store of its own.
    expect(estimateBytes(JSON.parse('[]'), json)).toBe(32)
    const objects = JSON.stringify(Array.from({ length: 20 }, (_, i) => ({ id: i })))
    const nested = both(() => JSON.parse(objects))
    expect(nested.any - nested.json).toBe(8 * (2 + 16))
  })

  it('sizes what JSON cannot make as by default', () => {
    const values: Record<string, () => unknown> = {
      'null prototype, 30 properties': () =>
        Object.assign(Object.create(null) as object, withKeys('jsonNull', 30)),
      'null prototype, 3 properties': () =>
        Object.assign(Object.create(null) as object, withKeys('jsonNullSmall', 3)),
      Map: () => new Map(Array.from({ length: 30 }, (_, i) => [`k${i}`, i])),
      Set: () => new Set(Array.from({ length: 30 }, (_, i) => i)),
      Date: () => new Date(0),
      'typed array': () => new Float64Array(30),
      Buffer: () => Buffer.alloc(30),
      ArrayBuffer: () => new ArrayBuffer(30),
      symbol: () => Symbol('description'),
      bigint: () => 2n ** 100n,
      'number (fractional)': () => 1.5,
      'long string': () => 'x'.repeat(1_000),
    }
    for (const [name, make] of Object.entries(values)) {
      const sizes = both(make)
      expect(Number.isFinite(sizes.json), name).toBe(true)
      expect(sizes.json, name).toBe(sizes.any)
    }
    // What the default cannot see, this cannot either.
    expect(estimateBytes(new Map(), json)).toBeGreaterThan(0)
    expect(estimateBytes({ f: () => 1 }, json)).toBe(Number.POSITIVE_INFINITY)
    expect(estimateBytes(new (class {})(), json)).toBe(Number.POSITIVE_INFINITY)
  })

  it("counts as by default with no options, {}, madeBy undefined or 'any'", () => {
    const make = () => decodedObject('jsonAny', 30)
    const reference = both(make).any
    for (const options of [undefined, {}, { madeBy: undefined }, { madeBy: 'any' } as const])
      expect(estimateBytes(make(), options)).toBe(reference)
  })

  it.each([
    [
      'a madeBy other than any or json',
      { madeBy: 'yaml' },
      'madeBy',
      /must be 'any' or 'json' \(got "yaml"\)/,
    ],
    ['a madeBy of another case', { madeBy: 'JSON' }, 'madeBy', /\(got "JSON"\)/],
    ['an unknown option', { madeby: 'json' }, 'madeby', /is not an option \(known: madeBy\)/],
    ['a string (a key)', 'users:1', 'estimateBytes', /options must be an object \(got "users:1"\)/],
    ['null', null, 'estimateBytes', /options must be an object/],
    ['an array', [], 'estimateBytes', /options must be an object/],
  ])('rejects %s with a ScacheOptionsError', (_, options, option, message) => {
    const call = () => estimateBytes({ id: 1 }, options as never)
    expect(call).toThrow(ScacheOptionsError)
    expect(call).toThrow(message)
    expect(call).toThrow(expect.objectContaining({ option }))
  })

  it(`matches V8: JSON.parse keeps ${JSON_DICTIONARY_PROPERTIES - 1} properties fast, not ${JSON_DICTIONARY_PROPERTIES}`, () => {
    const code = `
const decode = (n) => JSON.parse(JSON.stringify(Object.fromEntries(Array.from({ length: n }, (_, k) => ['f' + k, k]))))
console.log(JSON.stringify([%HasFastProperties(decode(${JSON_DICTIONARY_PROPERTIES - 1})), %HasFastProperties(decode(${JSON_DICTIONARY_PROPERTIES}))]))`
    const result = spawnSync(process.execPath, ['--allow-natives-syntax', '-e', code], {
      encoding: 'utf8',
      timeout: 60_000,
    })
    expect(result.status, result.stderr).toBe(0)
    expect(JSON.parse(result.stdout)).toEqual([true, false])
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

describe('estimateBytes as a sizeOf', () => {
  it('is the default estimate when given itself as sizeOf, called with the key', () => {
    // The key is not options: taken for them, every value would fail to size and go unstored.
    const options = { ttl: { minMs: 60_000, maxMs: 60_000 }, maxEntries: 100, maxBytes: 1_000_000 }
    const given = new Cache({
      ...options,
      sizeOf: estimateBytes as unknown as (value: unknown, key: string) => number,
    })
    const byDefault = new Cache(options)
    // Long strings: no key list or short string that the first cache would count for both.
    for (let i = 0; i < 10; i++) {
      given.set(`users:${i}`, `${i}:${'x'.repeat(100)}`)
      byDefault.set(`users:${i}`, `${i}:${'x'.repeat(100)}`)
    }
    expect(given.size).toBe(10)
    expect(given.bytes).toBe(byDefault.bytes)
  })
})

describe('estimateBytes against the heap', () => {
  // Entries written through a Cache in a clean child (--expose-gc), heap measured after full
  // collections, against the bytes the cache counts: the calibration bench/memory-retained.ts
  // measures for more shapes. The band is the target (±20 %) with a margin for the measurement.
  const cacheModule = join(import.meta.dirname, '../../../src/cache/index.ts')
  // Each as a handler gets it: decoded from a response, or built in code.
  const decoded = (make: string) => `JSON.parse(JSON.stringify(${make}))`
  const shapes: Record<string, string> = {
    'user record': decoded(
      `({ id: i, name: 'user ' + i, email: 'user' + i + '@example.com', roles: ['reader', 'writer'], address: { street: i + ' Main Street', city: 'Springfield', zip: String(10000 + i) }, bio: 'y'.repeat(600) })`,
    ),
    '1 KB string': decoded(`i + ':' + 'x'.repeat(1000)`),
    'object of 12 numbers': decoded(
      `Object.fromEntries(Array.from({ length: 12 }, (_, k) => ['f' + k, i + k]))`,
    ),
    // Dictionary mode: 30 properties added through computed keys.
    'object of 30 numbers set one by one': `(() => { const o = {}; for (let k = 0; k < 30; k++) o['f' + k] = i + k; return o })()`,
    'array of 20 objects': decoded(
      `Array.from({ length: 20 }, (_, k) => ({ id: i * 20 + k, tag: 't' + k }))`,
    ),
  }
  // Decoded shapes the default estimate is far from (0.16 and 0.82 of the heap), with madeBy 'json'.
  const jsonShapes: Record<string, string> = {
    'object of 100 numbers': decoded(
      `Object.fromEntries(Array.from({ length: 100 }, (_, k) => ['f' + k, i + k]))`,
    ),
    'array of 100 integers': decoded(`Array.from({ length: 100 }, (_, k) => i + k)`),
  }
  const cases = [
    ...Object.entries(shapes).map(([shape, make]) => ({ shape, make, sizeOf: '' })),
    ...Object.entries(jsonShapes).map(([shape, make]) => ({
      shape: `${shape} (madeBy 'json')`,
      make,
      sizeOf: `, sizeOf: (value) => estimateBytes(value, { madeBy: 'json' })`,
    })),
  ]
  for (const { shape, make, sizeOf } of cases) {
    it(`holds ${shape} entries within 0.75 to 1.25 of the estimate`, () => {
      const code = `
import { Cache, estimateBytes } from ${JSON.stringify(cacheModule)}
const count = 10000
const cache = new Cache({ ttl: { minMs: 3600000, maxMs: 3600000 }, maxEntries: count, maxBytes: 2 ** 31${sizeOf} })
const heap = () => { const m = process.memoryUsage(); return m.heapUsed + m.arrayBuffers }
const settle = () => { for (let i = 0; i < 4; i++) globalThis.gc() }
settle()
const before = heap()
for (let i = 0; i < count; i++) cache.set('users:' + i, ${make})
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
