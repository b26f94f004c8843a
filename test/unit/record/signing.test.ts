import { describe, expect, it } from 'vitest'
import { decodeRecord, encodeRecord } from '../../../src/record/index.js'

const SECRET = 'correct-horse-battery-staple'
const OTHER = 'another-secret-of-enough-length'
const invalidation = { keys: ['users:1', 'ünïcødé:\u2028'], prefixes: ['orders:'], all: false }
const text = (data: Uint8Array) => new TextDecoder().decode(data)
const bytes = (value: string) => new TextEncoder().encode(value)

describe('signed records (HMAC-SHA256)', () => {
  it('a signed record is accepted by a reader with the secret, and by one without', () => {
    const signed = encodeRecord(invalidation, 1_763_700_000_000, SECRET)
    expect(JSON.parse(text(signed)).sig).toMatch(/^[A-Za-z0-9_-]{43}$/)
    for (const secrets of [[SECRET], []])
      expect(decodeRecord(signed, secrets)).toMatchObject({ ok: true, invalidation })
  })

  it('rotation: any of the reader’s secrets verifies', () => {
    const signed = encodeRecord(invalidation, 1, OTHER)
    expect(decodeRecord(signed, [SECRET, OTHER])).toMatchObject({ ok: true })
  })

  it('a reader with a secret rejects unsigned, wrongly signed and altered records', () => {
    expect(decodeRecord(encodeRecord(invalidation, 1), [SECRET])).toEqual({
      ok: false,
      reason: 'unsigned',
    })
    expect(decodeRecord(encodeRecord(invalidation, 1, OTHER), [SECRET])).toEqual({
      ok: false,
      reason: 'bad-signature',
    })
    const record = JSON.parse(text(encodeRecord(invalidation, 1, SECRET)))
    for (const altered of [
      { ...record, keys: ['users:2'] },
      { ...record, all: true },
      { ...record, at: 2 },
      { ...record, sig: record.sig.slice(0, -2) },
      { ...record, sig: 42 },
    ]) {
      expect(decodeRecord(bytes(JSON.stringify(altered)), [SECRET])).toEqual({
        ok: false,
        reason: 'bad-signature',
      })
    }
  })

  it('an unsigned record from a newer writer cannot clear a reader that requires signatures', () => {
    const future = bytes('{"v":4,"all":true}')
    expect(decodeRecord(future, [])).toMatchObject({ ok: true, futureVersion: true })
    expect(decodeRecord(future, [SECRET])).toEqual({ ok: false, reason: 'unsigned' })
  })
})
