import { afterEach, describe, expect, it } from 'vitest'
import {
  type DecodeResult,
  decodeRecord,
  encodeRecord,
  type Invalidation,
  keyProblem,
  RECORD_VERSION,
  recordLimits,
  type SkipReason,
  tagProblem,
} from '../../../src/record/index.js'
import { patternProblem } from '../../../src/record/pattern.js'
import { seededRandom } from '../../support/prng.js'

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text)
const decodeText = (text: string): DecodeResult => decodeRecord(bytes(text))
const decodeJson = (value: unknown): DecodeResult => decodeText(JSON.stringify(value))

const invalidation = (fields: Partial<Invalidation>): Invalidation => ({
  keys: [],
  prefixes: [],
  all: false,
  ...fields,
})

const expectOk = (result: DecodeResult) => {
  if (!result.ok) throw new Error(`expected ok, got skip: ${result.reason}`)
  return result
}

const expectSkip = (result: DecodeResult, reason: SkipReason) => {
  expect(result).toEqual({ ok: false, reason })
}

afterEach(() => {
  // No test may leave Object.prototype modified.
  expect(({} as Record<string, unknown>).polluted).toBeUndefined()
  expect(({} as Record<string, unknown>).keys).toBeUndefined()
})

describe('encodeRecord / decodeRecord round trip', () => {
  const cases: [string, Invalidation][] = [
    ['keys', invalidation({ keys: ['users:42', 'orders:7'] })],
    ['prefixes', invalidation({ prefixes: ['orders:', 'u'] })],
    ['keys and prefixes', invalidation({ keys: ['a'], prefixes: ['b:'] })],
    ['all', invalidation({ all: true })],
    ['unicode keys', invalidation({ keys: ['ключ:1', 'emoji:😀', 'quote:"\\\n'] })],
  ]
  for (const [what, original] of cases) {
    it(`round-trips ${what}`, () => {
      const result = expectOk(decodeRecord(encodeRecord(original, 1_763_700_000_000)))
      expect(result.invalidation).toEqual(original)
      expect(result.droppedEntries).toBe(0)
      expect(result.futureVersion).toBe(false)
      expect(result.at).toBe(1_763_700_000_000)
    })
  }

  it('reports the producer time only when it is a finite number', () => {
    expect(expectOk(decodeJson({ v: 1, keys: ['k'], at: 'soon' })).at).toBeUndefined()
    expect(expectOk(decodeJson({ v: 1, keys: ['k'] })).at).toBeUndefined()
  })

  it('writes the version and the at field', () => {
    const at = 1_763_700_000_123
    const record = JSON.parse(
      new TextDecoder().decode(encodeRecord(invalidation({ keys: ['k'] }), at)),
    )
    expect(record).toEqual({ v: RECORD_VERSION, keys: ['k'], prefixes: [], all: false, at })
  })

  it('round-trips the maximum number of keys per record', () => {
    const keys = Array.from({ length: recordLimits.maxKeysPerRecord }, (_, i) => `users:${i}`)
    const data = encodeRecord(invalidation({ keys }), Date.now())
    expect(data.byteLength).toBeLessThanOrEqual(recordLimits.maxRecordBytes)
    const result = expectOk(decodeRecord(data))
    expect(result.invalidation.keys).toEqual(keys)
  })

  it('round-trips keys of the maximum length (in UTF-16 code units)', () => {
    const ascii = 'k'.repeat(recordLimits.maxKeyLength)
    const emoji = '😀'.repeat(recordLimits.maxKeyLength / 2)
    expect(emoji.length).toBe(recordLimits.maxKeyLength)
    const original = invalidation({ keys: [ascii, emoji] })
    expect(expectOk(decodeRecord(encodeRecord(original, 1))).invalidation).toEqual(original)
  })

  it('decodes a record inside a larger buffer (a view with an offset)', () => {
    const data = encodeRecord(invalidation({ keys: ['k'] }), 1)
    const buffer = new Uint8Array(data.byteLength + 20).fill(0xff)
    buffer.set(data, 10)
    const view = buffer.subarray(10, 10 + data.byteLength)
    expect(expectOk(decodeRecord(view)).invalidation.keys).toEqual(['k'])
    expect(expectOk(decodeRecord(Buffer.from(data))).invalidation.keys).toEqual(['k'])
  })

  it('applies defaults to missing optional fields', () => {
    expect(expectOk(decodeJson({ v: 1, keys: ['a'] })).invalidation).toEqual(
      invalidation({ keys: ['a'] }),
    )
    expect(expectOk(decodeJson({ v: 1, all: true })).invalidation).toEqual(
      invalidation({ all: true }),
    )
  })
})

describe('skip reasons', () => {
  it('too-large: more than Kinesis can deliver (maxReadBytes) stands for invalidate-all', () => {
    const padding = ' '.repeat(recordLimits.maxReadBytes)
    const data = bytes(`{"v":1,"keys":["a"]}${padding}`)
    expect(data.byteLength).toBeGreaterThan(recordLimits.maxReadBytes)
    // It may be an invalidation: not knowing which, the reader evicts everything.
    expect(decodeRecord(data)).toEqual({
      ok: true,
      invalidation: invalidation({ all: true }),
      droppedEntries: 0,
      futureVersion: false,
      unreadable: 'too-large',
    })
    // A reader that takes only signed records skips it: a signed record is never that large.
    expectSkip(decodeRecord(data, ['a-secret-of-enough-length']), 'too-large')
    // The same record just within the limit is read, and so is one past the publisher's cap.
    const fits = data.subarray(0, recordLimits.maxReadBytes)
    expect(expectOk(decodeRecord(fits)).invalidation.keys).toEqual(['a'])
    const pastPublisherCap = data.subarray(0, recordLimits.maxRecordBytes + 300)
    expect(expectOk(decodeRecord(pastPublisherCap)).invalidation.keys).toEqual(['a'])
  })

  it('more than maxKeysPerRecord entries, keys and prefixes together: invalidate-all', () => {
    const n = recordLimits.maxKeysPerRecord
    const keys = Array.from({ length: n + 1 }, (_, i) => `k${i}`)
    const all = {
      ok: true,
      invalidation: invalidation({ all: true }),
      droppedEntries: 0,
      futureVersion: false,
      unreadable: 'too-many-keys',
    }
    expect(decodeJson({ v: 1, keys })).toEqual(all)
    expect(decodeJson({ v: 1, prefixes: keys })).toEqual(all)
    const half = Math.ceil((n + 1) / 2)
    expect(decodeJson({ v: 1, keys: keys.slice(0, half), prefixes: keys.slice(half) })).toEqual(all)
    expectOk(decodeJson({ v: 1, keys: keys.slice(0, half), prefixes: keys.slice(half, n) }))
    // Invalid entries count towards the limit too.
    expect(decodeJson({ v: 1, keys: ['a', ...Array.from({ length: n }, () => 0)] })).toEqual(all)
  })

  it('not-utf8', () => {
    expectSkip(decodeRecord(new Uint8Array([0xff, 0xfe])), 'not-utf8')
    // A truncated multi-byte sequence inside otherwise valid JSON.
    const valid = bytes('{"v":1,"keys":["é"]}')
    const truncated = new Uint8Array([...bytes('{"v":1,"keys":["'), 0xc3, ...bytes('"]}')])
    expect(expectOk(decodeRecord(valid)).invalidation.keys).toEqual(['é'])
    expectSkip(decodeRecord(truncated), 'not-utf8')
    // An encoded surrogate (CESU-8) is not UTF-8.
    expectSkip(decodeRecord(new Uint8Array([0x22, 0xed, 0xa0, 0x80, 0x22])), 'not-utf8')
  })

  it('not-json', () => {
    for (const text of ['', '{', '{"v":1,}', 'undefined', "{'v':1}", '{"v":1}{"v":1}', 'NaN']) {
      expectSkip(decodeText(text), 'not-json')
    }
  })

  it('not-an-object', () => {
    for (const text of ['[]', '[{"v":1,"keys":["a"]}]', '"string"', '1', 'null', 'true']) {
      expectSkip(decodeText(text), 'not-an-object')
    }
  })

  it('bad-version', () => {
    for (const text of [
      '{"keys":["a"]}',
      '{"v":0,"keys":["a"]}',
      '{"v":-1,"keys":["a"]}',
      '{"v":"1","keys":["a"]}',
      '{"v":1.5,"keys":["a"]}',
      '{"v":null,"keys":["a"]}',
      '{"v":[1],"keys":["a"]}',
      '{"v":true,"keys":["a"]}',
    ]) {
      expectSkip(decodeText(text), 'bad-version')
    }
  })

  it('bad-field', () => {
    for (const record of [
      { v: 1, keys: 'a' },
      { v: 1, keys: { 0: 'a', length: 1 } },
      { v: 1, keys: null },
      { v: 1, prefixes: 'a:' },
      { v: 1, keys: ['a'], prefixes: {} },
      { v: 1, all: 'true' },
      { v: 1, all: 1 },
      { v: 1, keys: ['a'], all: null },
    ]) {
      expectSkip(decodeJson(record), 'bad-field')
    }
  })

  it('empty', () => {
    for (const record of [
      { v: 1 },
      { v: 1, keys: [], prefixes: [], all: false },
      { v: 1, keys: [''], prefixes: [42] },
      { v: 1, at: 1 },
    ]) {
      expectSkip(decodeJson(record), 'empty')
    }
  })
})

describe('invalid entries', () => {
  it('are dropped and counted while valid ones are kept', () => {
    const tooLong = 'x'.repeat(recordLimits.maxKeyLength + 1)
    const goodKeys = ['users:1', 'x'.repeat(recordLimits.maxKeyLength)]
    const badKeys = [1, null, true, '', tooLong, {}, ['users:2']]
    const goodPrefixes = ['orders:']
    const badPrefixes = ['', 7]
    const result = expectOk(
      decodeJson({
        v: 1,
        keys: [badKeys[0], goodKeys[0], ...badKeys.slice(1), goodKeys[1]],
        prefixes: [...badPrefixes, ...goodPrefixes],
      }),
    )
    expect(result.invalidation).toEqual(invalidation({ keys: goodKeys, prefixes: goodPrefixes }))
    expect(result.droppedEntries).toBe(badKeys.length + badPrefixes.length)
    for (const key of [...badKeys, ...badPrefixes]) expect(keyProblem(key)).toBeDefined()
  })

  it('all with only invalid entries still invalidates all', () => {
    const result = expectOk(decodeJson({ v: 1, keys: [''], all: true }))
    expect(result.invalidation).toEqual(invalidation({ all: true }))
    expect(result.droppedEntries).toBe(1)
  })
})

describe('future versions', () => {
  it('decode as invalidate-all with futureVersion', () => {
    for (const record of [
      // Version 2 is signed records bound to their stream, 3 records with tags or patterns; 4 is
      // the first this reader does not know.
      { v: 4, keys: ['a'] },
      { v: 4 },
      { v: 5, keys: 'a different shape', all: 'maybe' },
    ]) {
      expect(decodeJson(record)).toEqual({
        ok: true,
        invalidation: invalidation({ all: true }),
        droppedEntries: 0,
        futureVersion: true,
      })
    }
  })
})

describe('prototype pollution', () => {
  it('a __proto__ field decodes fine and pollutes nothing', () => {
    const result = expectOk(decodeText('{"v":1,"keys":["a"],"__proto__":{"polluted":true}}'))
    expect(result.invalidation).toEqual(invalidation({ keys: ['a'] }))
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
    expect((result.invalidation as unknown as Record<string, unknown>).polluted).toBeUndefined()
  })

  it('a constructor.prototype field decodes fine and pollutes nothing', () => {
    const result = expectOk(
      decodeText('{"v":1,"constructor":{"prototype":{"polluted":true}},"keys":["a"]}'),
    )
    expect(result.invalidation).toEqual(invalidation({ keys: ['a'] }))
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
  })

  it('fields under __proto__ are not read as the record’s own', () => {
    expectSkip(decodeText('{"v":1,"__proto__":{"keys":["x"]}}'), 'empty')
    expectSkip(decodeText('{"__proto__":{"v":1},"keys":["x"]}'), 'bad-version')
    const result = expectOk(decodeText('{"v":1,"keys":["a"],"__proto__":{"all":true}}'))
    expect(result.invalidation).toEqual(invalidation({ keys: ['a'] }))
  })

  it('a hasOwnProperty field does not confuse the field checks', () => {
    const result = expectOk(decodeText('{"v":1,"hasOwnProperty":1,"keys":["a"]}'))
    expect(result.invalidation.keys).toEqual(['a'])
  })
})

describe('decoding never throws', () => {
  const reasons = new Set<string>([
    'too-large',
    'not-utf8',
    'not-json',
    'not-an-object',
    'bad-version',
    'bad-field',
    'empty',
  ])

  const checkWellFormed = (result: DecodeResult) => {
    if (result.ok) {
      expect(typeof result.invalidation.all).toBe('boolean')
      for (const key of [...result.invalidation.keys, ...result.invalidation.prefixes]) {
        expect(keyProblem(key)).toBeUndefined()
      }
      for (const tag of result.invalidation.tags ?? []) expect(tagProblem(tag)).toBeUndefined()
      for (const pattern of result.invalidation.patterns ?? [])
        expect(patternProblem(pattern)).toBeUndefined()
      expect(Number.isInteger(result.droppedEntries)).toBe(true)
      expect(
        result.invalidation.all ||
          result.invalidation.keys.length +
            result.invalidation.prefixes.length +
            (result.invalidation.tags?.length ?? 0) +
            (result.invalidation.patterns?.length ?? 0) >
            0,
      ).toBe(true)
    } else {
      expect(reasons.has(result.reason)).toBe(true)
    }
  }

  it('for random byte arrays', () => {
    const random = seededRandom(1)
    const template = encodeRecord(invalidation({ keys: ['users:1'], prefixes: ['o:'] }), 1)
    for (let i = 0; i < 300; i++) {
      let data: Uint8Array
      if (i % 2 === 0) {
        data = new Uint8Array(Math.floor(random() * 64))
        for (let j = 0; j < data.length; j++) data[j] = Math.floor(random() * 256)
      } else {
        // Mutate a valid record, so that many inputs get past the UTF-8 and JSON checks.
        data = template.slice()
        const flips = 1 + Math.floor(random() * 3)
        for (let j = 0; j < flips; j++) {
          data[Math.floor(random() * data.length)] = Math.floor(random() * 128)
        }
      }
      let result: DecodeResult | undefined
      expect(() => {
        result = decodeRecord(data)
      }).not.toThrow()
      checkWellFormed(result!)
    }
  })

  it('for random JSON values', () => {
    const random = seededRandom(2)
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!
    const fieldNames = [
      'v',
      'keys',
      'prefixes',
      'tags',
      'patterns',
      'all',
      'at',
      '__proto__',
      'constructor',
      'x',
    ]
    const value = (depth: number): unknown => {
      const roll = random()
      if (depth > 3 || roll < 0.3) {
        return pick<unknown>([
          null,
          true,
          false,
          0,
          1,
          2,
          -1,
          1.5,
          1e308,
          '',
          'users:1',
          'x'.repeat(1025),
          '__proto__',
        ])
      }
      if (roll < 0.6)
        return Array.from({ length: Math.floor(random() * 4) }, () => value(depth + 1))
      const object: Record<string, unknown> = {}
      for (let i = Math.floor(random() * 5); i > 0; i--) {
        Object.defineProperty(object, pick(fieldNames), {
          value: value(depth + 1),
          enumerable: true,
          configurable: true,
          writable: true,
        })
      }
      if (random() < 0.5) object.v = pick<unknown>([1, 1, 2, 3, 3, 4, 0, '1'])
      return object
    }
    let accepted = 0
    for (let i = 0; i < 300; i++) {
      const text = JSON.stringify(value(0)) ?? 'null'
      let result: DecodeResult | undefined
      expect(() => {
        result = decodeText(text)
      }).not.toThrow()
      checkWellFormed(result!)
      if (result!.ok) accepted++
    }
    // The generator reaches the accepting paths too, not only the skips.
    expect(accepted).toBeGreaterThan(0)
  })
})
