import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { dynamoDbDecoder } from '../../../src/record/dynamodb.js'
import {
  type DecodeResult,
  decodeRecord,
  decodeWith,
  encodeRecord,
  recordLimits,
} from '../../../src/record/index.js'

/**
 * Property tests of every decoder: whatever the bytes, decoding returns a result (never throws),
 * every invalidation it returns is well formed, and no prototype is ever touched.
 */

const SECRET = 'correct-horse-battery-staple'
const decoders = [
  dynamoDbDecoder({
    tables: { Users: (key) => Object.values(key).map((value) => `users:${value}`) },
  }),
]
const encoder = new TextEncoder()
const decoderSets: [string, (data: Uint8Array) => DecodeResult][] = [
  ['scache', (data) => decodeRecord(data)],
  ['scache, signed', (data) => decodeRecord(data, [SECRET])],
  ['dynamodb then scache', (data) => decodeWith(decoders, data)],
]

/** Well-formed: only valid keys and prefixes, a boolean `all`, and a known reason otherwise. */
const wellFormed = (result: DecodeResult): boolean => {
  if (!result.ok) return typeof result.reason === 'string'
  const { keys, prefixes, all } = result.invalidation
  return (
    Array.isArray(keys) &&
    Array.isArray(prefixes) &&
    typeof all === 'boolean' &&
    [...keys, ...prefixes].every(
      (key) =>
        typeof key === 'string' && key.length >= 1 && key.length <= recordLimits.maxKeyLength,
    ) &&
    keys.length + prefixes.length <= recordLimits.maxKeysPerRecord
  )
}

const prototypeIntact = (): boolean =>
  Object.getOwnPropertyNames(Object.prototype).length === baseline &&
  ({} as Record<string, unknown>).polluted === undefined
const baseline = Object.getOwnPropertyNames(Object.prototype).length

/** JSON values shaped like records, with hostile field names mixed in. */
const fieldName = fc.oneof(
  fc.constantFrom('v', 'keys', 'prefixes', 'all', 'at', 'sig', '__proto__', 'constructor'),
  fc.constantFrom('eventSource', 'tableName', 'eventName', 'dynamodb', 'Keys', 'prototype'),
  fc.string(),
)
const jsonish = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.constantFrom(1, 2, 0, -1, 1.5, 'aws:dynamodb', 'Users', 'MODIFY', 'S', 'N', true, null),
    fc.string(),
    fc.integer(),
    fc.array(tie('value'), { maxLength: 5 }),
    fc.dictionary(fieldName, tie('value'), { maxKeys: 6 }),
  ),
})).value

describe.each(decoderSets)('decoding with %s', (_, decode) => {
  it('never throws on random bytes, and returns a well-formed result', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2_048 }), (data) => {
        const result = decode(data)
        return wellFormed(result) && prototypeIntact()
      }),
      { numRuns: 500 },
    )
  })

  it('never throws on random JSON (record-shaped, hostile names), and never pollutes a prototype', () => {
    fc.assert(
      fc.property(jsonish, (value) => {
        const result = decode(encoder.encode(JSON.stringify(value)))
        return wellFormed(result) && prototypeIntact()
      }),
      { numRuns: 1_000 },
    )
  })

  it('survives nesting as deep as a record can hold', () => {
    const depth = 100_000
    const nested = encoder.encode(`{"v":1,"keys":${'['.repeat(depth)}${']'.repeat(depth)}}`)
    expect(wellFormed(decode(nested))).toBe(true)
  })

  it('rejects anything over the record cap before parsing it', () => {
    const big = new Uint8Array(recordLimits.maxRecordBytes + 1).fill(0x20)
    expect(decode(big).ok).toBe(false)
  })
})

describe('round trip', () => {
  const key = fc.string({ minLength: 1, maxLength: 64 })
  it('every valid invalidation encodes and decodes to itself, signed or not', () => {
    fc.assert(
      fc.property(
        fc.array(key, { maxLength: 20 }),
        fc.array(key, { maxLength: 5 }),
        fc.boolean(),
        fc.boolean(),
        (keys, prefixes, all, signed) => {
          fc.pre(all || keys.length + prefixes.length > 0)
          const invalidation = { keys, prefixes, all }
          const data = encodeRecord(invalidation, 1_763_700_000_000, signed ? SECRET : undefined)
          const result = decodeRecord(data, signed ? [SECRET] : [])
          return result.ok && JSON.stringify(result.invalidation) === JSON.stringify(invalidation)
        },
      ),
      { numRuns: 500 },
    )
  })
})
