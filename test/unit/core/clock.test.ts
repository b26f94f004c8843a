import { setImmediate as nextTurn } from 'node:timers/promises'
import { KinesisClient } from '@aws-sdk/client-kinesis'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { RECENCY_MS } from '../../../src/cache/index.js'
import { perRunClock, readsOncePerRun } from '../../../src/core/clock.js'
import { createScache, type ScacheOptions } from '../../../src/core/index.js'

// A real client that is never called: no poll falls due in these tests.
const client = new KinesisClient({ region: 'us-east-1' })

afterEach(() => {
  vi.useRealTimers()
})

describe('perRunClock', () => {
  it('reads Date.now once per run of code', () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    vi.setSystemTime(1_000)
    const now = perRunClock()
    expect(now()).toBe(1_000)
    vi.setSystemTime(5_000)
    // The same run of code: the clock read above still serves.
    expect(now()).toBe(1_000)
  })

  it('reads the clock afresh after an await', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    vi.setSystemTime(1_000)
    const now = perRunClock()
    expect(now()).toBe(1_000)
    vi.setSystemTime(5_000)
    await Promise.resolve()
    expect(now()).toBe(5_000)
  })

  it('reads the clock afresh in the next turn of the event loop', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    vi.setSystemTime(1_000)
    const now = perRunClock()
    expect(now()).toBe(1_000)
    vi.setSystemTime(5_000)
    await nextTurn()
    expect(now()).toBe(5_000)
  })

  it('is told apart from other clocks', () => {
    expect(readsOncePerRun(perRunClock())).toBe(true)
    expect(readsOncePerRun(() => Date.now())).toBe(false)
  })

  it('keeps each clock to itself', () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    vi.setSystemTime(1_000)
    const first = perRunClock()
    expect(first()).toBe(1_000)
    vi.setSystemTime(5_000)
    expect(perRunClock()()).toBe(5_000)
    expect(first()).toBe(1_000)
  })
})

/**
 * A Scache on the default clock, Date faked at 1,000,000: by default entries living 100 ms and no
 * poll due; `options` override.
 */
const atFixedTime = (options: Partial<ScacheOptions> = {}) => {
  vi.useFakeTimers({ toFake: ['Date'] })
  vi.setSystemTime(1_000_000)
  return createScache({
    stream: { name: 's', client },
    ttl: { minMs: 100, maxMs: 100 },
    pollIntervalMs: 3_600_000,
    maxStalenessMs: 3_600_000,
    log: false,
    ...options,
  })
}

describe('the default clock of a Scache', () => {
  it('expires an entry read after an await, once its TTL has passed', async () => {
    const scache = atFixedTime()
    const invocation = await scache.begin()
    invocation.cache.set('k', 'v')
    vi.setSystemTime(1_000_101)
    // Within the run that wrote it, the entry is read at the time it was written.
    expect(invocation.cache.get('k')).toBe('v')
    await Promise.resolve()
    expect(invocation.cache.get('k')).toBeUndefined()
    invocation.end()
  })

  it('serves, expires and misses within one run of code, at the time its first read kept', async () => {
    const scache = atFixedTime()
    const invocation = await scache.begin()
    invocation.cache.set('old', 'a')
    await Promise.resolve()
    vi.setSystemTime(1_000_050)
    invocation.cache.set('new', 'b')
    await Promise.resolve()
    vi.setSystemTime(1_000_120)
    // The first read of this run keeps 1_000_120: 'old' (expiring at 1_000_100) is past its TTL.
    expect(invocation.cache.get('new')).toBe('b')
    expect(invocation.cache.get('old')).toBeUndefined()
    expect(invocation.cache.get('none')).toBeUndefined()
    // Later in the same run the clock has moved on, but the kept time still serves 'new'.
    vi.setSystemTime(1_000_200)
    expect(invocation.cache.get('new')).toBe('b')
    expect(invocation.end()).toMatchObject({ hits: 2, misses: 2, bypassed: 0 })
  })

  it('moves an entry a hit finds in a later recency period to the recent end, once', async () => {
    const scache = atFixedTime({ ttl: { minMs: 3_600_000, maxMs: 3_600_000 }, maxEntries: 3 })
    const invocation = await scache.begin()
    for (const key of ['a', 'b', 'c']) invocation.cache.set(key, key)
    await Promise.resolve()
    vi.setSystemTime(1_000_000 + RECENCY_MS)
    // The first hit of a new period moves 'a' past 'b' and 'c'; the second finds it moved.
    expect(invocation.cache.get('a')).toBe('a')
    expect(invocation.cache.get('a')).toBe('a')
    invocation.cache.set('d', 'd')
    expect(invocation.cache.get('b')).toBeUndefined()
    invocation.cache.set('e', 'e')
    expect(invocation.cache.get('c')).toBeUndefined()
    expect(invocation.cache.get('a')).toBe('a')
    expect(invocation.end()).toMatchObject({ hits: 3, misses: 2 })
  })

  it('bypasses reads in a long invocation once it outlives maxStalenessMs', async () => {
    const scache = atFixedTime({
      ttl: { minMs: 3_600_000, maxMs: 3_600_000 },
      pollIntervalMs: 1_000,
      maxStalenessMs: 1_000,
    })
    const invocation = await scache.begin()
    invocation.cache.set('k', 'v')
    expect(invocation.cache.get('k')).toBe('v')
    vi.setSystemTime(1_001_001)
    await nextTurn()
    expect(invocation.cache.get('k')).toBeUndefined()
    expect(invocation.cache.bypassed).toBe(true)
    invocation.end()
  })
})
