import { describe, expect, it } from 'vitest'
import {
  decodeRecord,
  encodeRecord,
  recordLimits,
  TAGGED_RECORD_VERSION,
} from '../../../src/record/index.js'
import { compilePattern, patternLimits, patternProblem } from '../../../src/record/pattern.js'
import * as released from '../../support/record-v2.js'

const SECRET = 'correct-horse-battery-staple'
const STREAM = 'invalidations'
const tagged = {
  keys: ['users:1'],
  prefixes: [],
  all: false,
  tags: ['user:7', 'ünïcødé'],
  patterns: ['users:*:profile'],
}
const text = (data: Uint8Array) => new TextDecoder().decode(data)
const bytes = (value: unknown) => new TextEncoder().encode(JSON.stringify(value))

describe('records with tags and patterns (version 3)', () => {
  it('round-trip, unsigned and signed, and only they are version 3', () => {
    for (const [secret, secrets] of [
      [undefined, []],
      [SECRET, [SECRET]],
    ] as const) {
      const data = encodeRecord(tagged, 5, secret, STREAM)
      expect(JSON.parse(text(data)).v).toBe(TAGGED_RECORD_VERSION)
      expect(decodeRecord(data, secrets, { stream: STREAM })).toEqual({
        ok: true,
        invalidation: tagged,
        droppedEntries: 0,
        futureVersion: false,
        at: 5,
      })
    }
    const plain = { keys: ['users:1'], prefixes: [], all: false, tags: [], patterns: [] }
    expect(JSON.parse(text(encodeRecord(plain, 5))).v).toBe(1)
    expect(JSON.parse(text(encodeRecord(plain, 5, SECRET, STREAM))).v).toBe(2)
  })

  it('a reader released before version 3 evicts everything on one, signed or not', () => {
    const unsigned = encodeRecord(tagged, 5)
    expect(released.decodeRecord(unsigned)).toMatchObject({
      ok: true,
      invalidation: { all: true },
      futureVersion: true,
    })
    // Its signature check comes before its version check: `sig` is made for it to pass.
    const signed = encodeRecord(tagged, Date.now(), SECRET, STREAM)
    expect(
      released.decodeRecord(signed, [SECRET], { stream: STREAM, arrivedAt: Date.now() }),
    ).toMatchObject({ ok: true, invalidation: { all: true }, futureVersion: true })
    // A tag-only record, which it would otherwise read as empty.
    const tagOnly = encodeRecord({ keys: [], prefixes: [], all: false, tags: ['t'] }, 5)
    expect(released.decodeRecord(tagOnly)).toMatchObject({ invalidation: { all: true } })
  })

  it('the version 3 signature covers tags and patterns', () => {
    const record = JSON.parse(text(encodeRecord(tagged, 5, SECRET, STREAM)))
    for (const altered of [
      { ...record, tags: ['user:8'] },
      { ...record, tags: [] },
      { ...record, patterns: ['*:*:*'] },
      { ...record, keys: [] },
      // Only the legacy signature left: it does not cover tags, so it is not enough.
      { ...record, sig3: undefined },
      { ...record, sig3: record.sig },
    ]) {
      expect(decodeRecord(bytes(altered), [SECRET], { stream: STREAM })).toEqual({
        ok: false,
        reason: 'bad-signature',
      })
    }
    expect(decodeRecord(bytes(record), [SECRET], { stream: 'another' })).toEqual({
      ok: false,
      reason: 'bad-signature',
    })
  })

  it('tags and patterns mean nothing in an older record', () => {
    const result = decodeRecord(bytes({ v: 1, keys: ['a'], tags: ['t'], patterns: ['a:*'] }))
    expect(result).toEqual({
      ok: true,
      invalidation: { keys: ['a'], prefixes: [], all: false },
      droppedEntries: 0,
      futureVersion: false,
    })
    expect(decodeRecord(bytes({ v: 1, tags: ['t'] }))).toEqual({ ok: false, reason: 'empty' })
  })

  it('hostile tags and patterns are dropped and counted; too many entries clear', () => {
    const result = decodeRecord(
      bytes({
        v: 3,
        tags: ['ok', '', 7, 'x'.repeat(recordLimits.maxTagLength + 1), { __proto__: 1 }],
        patterns: ['a:*', '', 'a'.repeat(patternLimits.maxLength + 1), ':'.repeat(40), null],
      }),
    )
    expect(result).toMatchObject({
      ok: true,
      invalidation: { tags: ['ok'], patterns: ['a:*'], all: false },
      droppedEntries: 8,
    })
    expect(decodeRecord(bytes({ v: 3, tags: [''], patterns: [] }))).toEqual({
      ok: false,
      reason: 'empty',
    })
    expect(decodeRecord(bytes({ v: 3, tags: 'user:7' }))).toEqual({
      ok: false,
      reason: 'bad-field',
    })
    const many = Array.from({ length: recordLimits.maxKeysPerRecord }, (_, i) => `t${i}`)
    expect(decodeRecord(bytes({ v: 3, keys: ['k'], tags: many }))).toMatchObject({
      ok: true,
      invalidation: { all: true },
      unreadable: 'too-many-keys',
    })
  })
})

describe('key patterns', () => {
  it('* matches any run within one segment, never across a colon', () => {
    const cases: [string, string, boolean][] = [
      ['users:*:profile', 'users:42:profile', true],
      ['users:*:profile', 'users::profile', true],
      ['users:*:profile', 'users:42:settings', false],
      ['users:*:profile', 'users:42:x:profile', false],
      ['users:*:profile', 'users:42', false],
      ['users:*', 'users:42', true],
      ['users:*', 'users:42:profile', false],
      ['orders:2026-*', 'orders:2026-01', true],
      ['orders:2026-*', 'orders:2025-01', false],
      ['a:x*y*z', 'a:xyz', true],
      ['a:x*y*z', 'a:x-y-y-z', true],
      ['a:x*y*z', 'a:xzy', false],
      ['a:*ab*ab', 'a:abab', true],
      ['a:*ab*ab', 'a:aba', false],
      ['*:profile', 'users:profile', true],
      ['*', 'plain', true],
      ['*', 'a:b', false],
      ['exact:key', 'exact:key', true],
      ['exact:key', 'exact:keys', false],
    ]
    for (const [pattern, key, expected] of cases) {
      expect(patternProblem(pattern)).toBeUndefined()
      expect([pattern, key, compilePattern(pattern).matches(key)]).toEqual([pattern, key, expected])
    }
    expect(compilePattern('users:*:profile').literalPrefix).toBe('users:')
    expect(compilePattern('*:x').literalPrefix).toBe('')
  })

  it('validation: length, segment count, no empty pattern', () => {
    expect(patternProblem('')).toMatch(/empty/)
    expect(patternProblem(3)).toMatch(/string/)
    expect(patternProblem('a'.repeat(patternLimits.maxLength + 1))).toMatch(/at most 1024/)
    expect(
      patternProblem(
        Array(patternLimits.maxSegments + 1)
          .fill('*')
          .join(':'),
      ),
    ).toMatch(/segments/)
    expect(patternProblem(Array(patternLimits.maxSegments).fill('*').join(':'))).toBeUndefined()
  })
})
