import { KinesisClient } from '@aws-sdk/client-kinesis'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { resolveOptions } from '../../../src/core/options/index.js'
import { ScacheOptionsError } from '../../../src/errors.js'
import { createRelay } from '../../../src/index.js'
import { fromItem, toItem } from '../../../src/log/index.js'

const stream = { name: 's', client: new KinesisClient({ region: 'us-east-1' }) }

const optionOf = (build: () => unknown): string => {
  try {
    build()
  } catch (error) {
    if (error instanceof ScacheOptionsError) return error.option
    throw error
  }
  throw new Error('no error thrown')
}

afterEach(() => {
  vi.unstubAllEnvs()
})

describe('the logTable option', () => {
  it('is off by default; given, each container reads one copy, picked at random', () => {
    expect(resolveOptions({ stream }).logTable).toBeUndefined()
    expect(resolveOptions({ stream, logTable: { name: 't' } }).logTable).toEqual({
      name: 't',
      copy: 0,
    })
    const last = resolveOptions({
      stream,
      logTable: { name: 't', copies: 4 },
      clock: { random: () => 0.99 },
    })
    expect(last.logTable?.copy).toBe(3)
  })

  it('comes from SCACHE_LOG_TABLE and SCACHE_LOG_COPIES, which code overrides', () => {
    vi.stubEnv('SCACHE_LOG_TABLE', 'from-env')
    vi.stubEnv('SCACHE_LOG_COPIES', '2')
    const resolved = resolveOptions({ stream, clock: { random: () => 0.6 } }).logTable
    expect(resolved).toEqual({ name: 'from-env', copy: 1 })
    expect(resolveOptions({ stream, logTable: { name: 'code', copies: 1 } }).logTable?.name).toBe(
      'code',
    )
    vi.stubEnv('SCACHE_LOG_COPIES', 'two')
    expect(optionOf(() => resolveOptions({ stream }))).toBe('SCACHE_LOG_COPIES')
  })

  it('is validated at construction, naming the option', () => {
    expect(optionOf(() => resolveOptions({ stream, logTable: {} }))).toBe('logTable.name')
    expect(optionOf(() => resolveOptions({ stream, logTable: 't' }))).toBe('logTable')
    expect(optionOf(() => resolveOptions({ stream, logTable: { name: 't', copies: 0 } }))).toBe(
      'logTable.copies',
    )
    expect(optionOf(() => resolveOptions({ stream, logTable: { name: 't', copies: 101 } }))).toBe(
      'logTable.copies',
    )
    expect(optionOf(() => resolveOptions({ stream, logTable: { name: 't', client: {} } }))).toBe(
      'logTable.client',
    )
    expect(optionOf(() => resolveOptions({ stream, logTable: { name: 't', table: 'x' } }))).toBe(
      'logTable.table',
    )
  })
})

describe('createRelay options', () => {
  it('are validated at construction, naming the option', () => {
    expect(optionOf(() => createRelay({} as never))).toBe('table')
    expect(optionOf(() => createRelay({ table: 't', copies: 0 }))).toBe('copies')
    expect(optionOf(() => createRelay({ table: 't', secret: 'short' }))).toBe('secret')
    expect(optionOf(() => createRelay({ table: 't', decoders: [{}] as never }))).toBe('decoders')
    expect(optionOf(() => createRelay({ table: 't', retentionMs: 1 }))).toBe('retentionMs')
    expect(optionOf(() => createRelay({ table: 't', bogus: 1 } as never))).toBe('bogus')
    // A batch must end before anything above the head it read could expire.
    expect(
      optionOf(() => createRelay({ table: 't', retentionMs: 60_000, appendTimeoutMs: 30_001 })),
    ).toBe('appendTimeoutMs')
    expect(typeof createRelay({ table: 't', retentionMs: 60_000, appendTimeoutMs: 30_000 })).toBe(
      'function',
    )
    expect(typeof createRelay({ table: 't' })).toBe('function')
  })
})

describe('log entries as items (untrusted: anyone with PutItem on the table writes them)', () => {
  const entry = { seq: 7, keys: ['a:1'], prefixes: ['b:'], all: false, at: 5, upTo: 4 }
  it('round-trip', () => {
    const item = toItem(0, { ...entry, shard: 's', expiresAt: 9 })
    expect(fromItem(item)).toEqual({ ...entry, shard: 's', expiresAt: 9 })
  })

  it('a malformed entry reads as `all`; an item without a seq is not an entry', () => {
    const item = toItem(0, { ...entry, shard: 's', expiresAt: 9 })
    expect(fromItem({ ...item, keys: { S: 'a:1' } })?.all).toBe(true)
    expect(fromItem({ ...item, keys: { L: [{ N: '1' }] } })?.all).toBe(true)
    expect(fromItem({ ...item, keys: { L: [{ S: '' }] } })?.all).toBe(true)
    expect(fromItem({ ...item, all: { S: 'yes' } })?.all).toBe(true)
    expect(fromItem({ ...item, seq: { S: '7' } })).toBeUndefined()
    expect(fromItem({ ...item, seq: { N: '0' } })).toBeUndefined()
  })
})
