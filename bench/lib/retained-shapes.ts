import { decoded, userRecord } from './values.js'

const assigned = (i: number, properties: number): Record<string, unknown> => {
  const object: Record<string, unknown> = {}
  for (let k = 0; k < properties; k++) object[`field${k}`] = `v${i}`
  return object
}

/** One string every entry of its shape refers to: each entry holds a reference, not a copy. */
const SHARED = decoded('s'.repeat(1_000)) as string

/** Each shape's values, distinct per i; "decoded" ones went through JSON, as from a response. */
export const retainedShapes: Record<string, (i: number) => unknown> = {
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
  'array of 50 fractional numbers (decoded)': (i) =>
    decoded(Array.from({ length: 50 }, (_, k) => i + k + 0.25)),
  'Set of 50 integers': (i) => new Set(Array.from({ length: 50 }, (_, k) => i * 50 + k)),
  'Float64Array of 64': (i) => new Float64Array(64).fill(i),
  'array of 10 ISO dates (decoded)': (i) =>
    decoded(Array.from({ length: 10 }, (_, k) => new Date(1.7e12 + i * 10 + k))),
  'object with a shared 1 KB string': () => ({ id: 1, text: SHARED }),
}
