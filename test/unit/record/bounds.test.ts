import { describe, expect, it } from 'vitest'
import { dynamoDbDecoder } from '../../../src/record/dynamodb.js'
import {
  decodeRecord,
  decodeWith,
  encodeRecord,
  recordLimits,
  signedRecordWindow,
  signedStreamName,
  withinDepth,
} from '../../../src/record/index.js'

const SECRET = 'correct-horse-battery-staple'
const bytes = (text: string) => new TextEncoder().encode(text)
const nested = (depth: number) => `{"v":1,"keys":${'['.repeat(depth)}${']'.repeat(depth)}}`
const decoders = [dynamoDbDecoder({ tables: { users: ({ id }) => `users:${id}` } })]
const all = { keys: [], prefixes: [], all: true }

describe('nesting is bounded before parsing', () => {
  it('withinDepth counts brackets outside strings only', () => {
    expect(withinDepth(bytes('{"a":[[1]]}'), 3)).toBe(true)
    expect(withinDepth(bytes('{"a":[[[1]]]}'), 3)).toBe(false)
    expect(withinDepth(bytes('{"a":"[[[[[[\\"[[[["}'), 1)).toBe(true)
    expect(withinDepth(bytes('[]'.repeat(1_000)), 1)).toBe(true)
  })

  it('a 300,000-deep record never throws, whatever the reader takes', () => {
    const data = bytes(nested(300_000))
    expect(decodeRecord(data, [SECRET])).toEqual({ ok: false, reason: 'too-deep' })
    expect(decodeRecord(data)).toMatchObject({
      ok: true,
      invalidation: all,
      unreadable: 'too-deep',
    })
    expect(decodeWith(decoders, data, [SECRET])).toMatchObject({ ok: true, invalidation: all })
  })

  it('reads what legitimate records nest: scache 2 deep, DynamoDB items 32 levels', () => {
    let image: unknown = { S: 'leaf' }
    for (let level = 0; level < 32; level++) image = { M: { a: image } }
    const change = JSON.stringify({
      eventSource: 'aws:dynamodb',
      eventName: 'MODIFY',
      tableName: 'users',
      dynamodb: { Keys: { id: { S: '7' } }, NewImage: { id: { S: '7' }, deep: image } },
    })
    expect(withinDepth(bytes(change), recordLimits.maxDepth)).toBe(true)
    expect(decodeWith(decoders, bytes(change))).toMatchObject({
      ok: true,
      invalidation: { keys: ['users:7'], prefixes: [], all: false },
    })
    expect(decodeRecord(bytes(nested(recordLimits.maxDepth - 1)))).toEqual({
      ok: false,
      reason: 'empty',
    })
  })
})

describe('signatures bind the stream and the time', () => {
  const invalidation = { keys: ['users:1'], prefixes: [], all: false }
  const now = 1_763_700_000_000

  it('a stream given by name and by ARN is the same stream', () => {
    expect(signedStreamName('arn:aws:kinesis:eu-west-1:123456789012:stream/invalidations')).toBe(
      'invalidations',
    )
    const signed = encodeRecord(invalidation, now, SECRET, 'invalidations')
    expect(JSON.parse(new TextDecoder().decode(signed)).v).toBe(2)
    const arn = 'arn:aws:kinesis:eu-west-1:123456789012:stream/invalidations'
    expect(decodeRecord(signed, [SECRET], { stream: arn, arrivedAt: now })).toMatchObject({
      ok: true,
      invalidation,
    })
    expect(decodeRecord(signed, [SECRET], { stream: 'other', arrivedAt: now })).toEqual({
      ok: false,
      reason: 'bad-signature',
    })
    // Without knowing its stream, a reader cannot verify a bound record.
    expect(decodeRecord(signed, [SECRET])).toEqual({ ok: false, reason: 'bad-signature' })
    // A reader without secrets reads it as any record.
    expect(decodeRecord(signed)).toMatchObject({ ok: true, invalidation, futureVersion: false })
  })

  it('accepts a signed record within the window around its arrival, and no further', () => {
    const { maxAgeMs, aheadMs } = signedRecordWindow
    const context = (arrivedAt: number) => ({ stream: 's', arrivedAt })
    for (const signed of [
      encodeRecord(invalidation, now, SECRET, 's'),
      encodeRecord(invalidation, now, SECRET),
    ]) {
      expect(decodeRecord(signed, [SECRET], context(now + maxAgeMs))).toMatchObject({ ok: true })
      expect(decodeRecord(signed, [SECRET], context(now - aheadMs))).toMatchObject({ ok: true })
      expect(decodeRecord(signed, [SECRET], context(now + maxAgeMs + 1))).toEqual({
        ok: false,
        reason: 'stale',
      })
      expect(decodeRecord(signed, [SECRET], context(now - aheadMs - 1))).toEqual({
        ok: false,
        reason: 'stale',
      })
    }
  })
})
