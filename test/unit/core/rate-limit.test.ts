import { describe, expect, it } from 'vitest'
import { Cache } from '../../../src/cache/index.js'
import { type Counters, newCounters } from '../../../src/core/invocation.js'
import { Loads } from '../../../src/core/loads.js'
import { resolveOptions } from '../../../src/core/options/resolve.js'
import { LoadRateLimiter, MAX_BUCKETS } from '../../../src/core/rate-limit.js'
import type { ScacheOptions } from '../../../src/index.js'
import { createScache, LoadRateLimitedError, ScacheOptionsError } from '../../../src/index.js'

/** A virtual clock: tests move it by hand. */
const virtualClock = (start = 1_000_000) => {
  const clock = { nowMs: start, now: () => clock.nowMs }
  return clock
}

describe('LoadRateLimiter (virtual clock)', () => {
  it('lets a burst through, then perSecond, and says when the next token is due', () => {
    const clock = virtualClock()
    const limits = new Map([['users', { perSecond: 2, burst: 3 }]])
    const limiter = new LoadRateLimiter(limits, undefined, clock.now)
    for (let i = 0; i < 3; i++) expect(limiter.take(`users:${i}`)).toBe(0)
    // Empty: a token comes back every 500 ms.
    expect(limiter.take('users:3')).toBe(500)
    clock.nowMs += 499
    expect(limiter.take('users:3')).toBe(1)
    clock.nowMs += 1
    expect(limiter.take('users:3')).toBe(0)
    expect(limiter.take('users:4')).toBe(500)
    // Idle long enough, it holds no more than the burst.
    clock.nowMs += 60_000
    for (let i = 0; i < 3; i++) expect(limiter.take(`users:${i}`)).toBe(0)
    expect(limiter.take('users:9')).toBeGreaterThan(0)
  })

  it('keeps a bucket per keyspace; unlisted keyspaces use the default, or none', () => {
    const clock = virtualClock()
    const limits = new Map([['users', { perSecond: 1, burst: 1 }]])
    const unlimited = new LoadRateLimiter(limits, undefined, clock.now)
    expect(unlimited.take('users:1')).toBe(0)
    expect(unlimited.take('users:2')).toBe(1_000)
    for (let i = 0; i < 100; i++) expect(unlimited.take(`orders:${i}`)).toBe(0)
    expect(unlimited.take('keyless')).toBe(0)

    const fallback = new LoadRateLimiter(limits, { perSecond: 10, burst: 2 }, clock.now)
    expect(fallback.take('orders:1')).toBe(0)
    expect(fallback.take('orders:2')).toBe(0)
    expect(fallback.take('orders:3')).toBe(100)
    // Each unlisted keyspace has a bucket of its own at the default rate.
    expect(fallback.take('carts:1')).toBe(0)
    expect(fallback.take('keyless')).toBe(0)
    expect(fallback.take('other-keyless')).toBe(0)
    expect(fallback.take('again')).toBe(100) // keys without a keyspace share the '' bucket
    expect(fallback.take('users:1')).toBe(0)
    expect(fallback.take('users:2')).toBe(1_000)
  })

  it('gains nothing from a clock that steps back, and loses nothing', () => {
    const clock = virtualClock()
    const limiter = new LoadRateLimiter(new Map(), { perSecond: 1, burst: 2 }, clock.now)
    expect(limiter.take('a:1')).toBe(0)
    clock.nowMs -= 3_600_000
    expect(limiter.take('a:1')).toBe(0)
    expect(limiter.take('a:1')).toBe(1_000)
    clock.nowMs += 3_600_000 + 1_000
    expect(limiter.take('a:1')).toBe(0)
    expect(limiter.take('a:1')).toBe(1_000)
  })

  it(`keeps at most ${MAX_BUCKETS} buckets, and none that are full`, () => {
    const clock = virtualClock()
    const limiter = new LoadRateLimiter(new Map(), { perSecond: 1, burst: 1 }, clock.now)
    for (let i = 0; i < 3 * MAX_BUCKETS; i++) limiter.take(`k${i}:1`)
    expect(limiter.size).toBe(MAX_BUCKETS)
    // The most recent are kept: still empty.
    expect(limiter.take(`k${3 * MAX_BUCKETS - 1}:1`)).toBe(1_000)
    clock.nowMs += 1_000
    // Refilled buckets are dropped when next used.
    for (let i = 2 * MAX_BUCKETS; i < 3 * MAX_BUCKETS; i++) limiter.take(`k${i}:1`)
    clock.nowMs += 10_000
    const bigBurst = new LoadRateLimiter(new Map(), { perSecond: 1, burst: 5 }, clock.now)
    bigBurst.take('x:1')
    expect(bigBurst.size).toBe(1)
    clock.nowMs += 1_000
    bigBurst.take('x:1')
    bigBurst.take('nothing:1')
    clock.nowMs += 10_000
    expect(bigBurst.take('x:1')).toBe(0)
    expect(bigBurst.size).toBe(2)
  })
})

/** Loads over a cache with `options`, on a virtual clock. */
const loadsWith = (options: ScacheOptions, clock = virtualClock()) => {
  const resolved = resolveOptions({
    stream: { name: 's' },
    log: false,
    clock: { now: clock.now },
    ...options,
  })
  const cache = new Cache({
    ttl: resolved.ttl,
    maxEntries: 100,
    maxBytes: 1 << 20,
    staleIfErrorMs: resolved.staleIfErrorMs,
    now: clock.now,
  })
  const loads = new Loads(cache, resolved)
  const counters: Counters = newCounters()
  const request = <T>(key: string, loader: () => T | Promise<T>) => ({
    key,
    loader,
    counters,
    bypassed: false,
    bypassing: () => false,
    ttlMs: undefined,
    timeoutMs: 10_000,
  })
  return { cache, loads, counters, clock, request }
}

describe('the load rate limit in Loads', () => {
  it('refuses past the bucket with a typed error, without calling the loader', async () => {
    const { loads, counters, request } = loadsWith({
      keyspaces: { users: { loadRate: { perSecond: 1, burst: 1 } } },
    })
    expect(await loads.start(request('users:1', () => 'Ada'))).toBe('Ada')
    let called = false
    const refused = await loads
      .start(
        request('users:2', () => {
          called = true
          return 'Alan'
        }),
      )
      .catch((error: unknown) => error)
    expect(refused).toBeInstanceOf(LoadRateLimitedError)
    expect(refused).toMatchObject({ key: 'users:2', keyspace: 'users', retryInMs: 1_000 })
    expect(called).toBe(false)
    expect(counters).toMatchObject({ loads: 1, loadRateLimited: 1 })
  })

  it('takes no token for a caller joining a load in flight', async () => {
    const { loads, counters, request } = loadsWith({ loadRate: { perSecond: 1, burst: 1 } })
    let release: (value: string) => void = () => {}
    const first = loads.start(request('users:1', () => new Promise<string>((r) => (release = r))))
    // What getOrLoad does for a second caller of the same key: join, no start.
    const joined = loads.join<string>(request('users:1', () => 'never called'))
    expect(joined).toBeDefined()
    release('Ada')
    expect(await joined).toBe('Ada')
    expect(await first).toBe('Ada')
    expect(counters.loadRateLimited).toBe(0)
  })

  it('serves the stale entry within staleIfErrorMs when over the limit', async () => {
    const clock = virtualClock()
    const { cache, loads, counters, request } = loadsWith(
      {
        ttl: { minMs: 1_000, maxMs: 1_000 },
        staleIfErrorMs: 60_000,
        keyspaces: { users: { loadRate: { perSecond: 0.001, burst: 1 } } },
      },
      clock,
    )
    cache.set('users:1', 'Ada')
    clock.nowMs += 2_000
    expect(cache.get('users:1')).toBeUndefined()
    expect(await loads.start(request('users:9', () => 'Alan'))).toBe('Alan')
    expect(await loads.start(request('users:1', () => 'fresh'))).toBe('Ada')
    expect(counters).toMatchObject({ loadRateLimited: 1, staleIfError: 1 })
    // Nothing stale for this one: the typed error.
    await expect(loads.start(request('users:2', () => 'x'))).rejects.toBeInstanceOf(
      LoadRateLimitedError,
    )
  })

  it('redacts the key and keyspace in the error with redactKeys', async () => {
    const { loads, request } = loadsWith({
      redactKeys: true,
      keyspaces: { users: { loadRate: { perSecond: 1, burst: 1 } } },
    })
    await loads.start(request('users:1', () => 1))
    const error = (await loads.start(request('users:2', () => 2)).catch((e: unknown) => e)) as Error
    expect(error).toBeInstanceOf(LoadRateLimitedError)
    expect(error.message).not.toContain('users')
    expect((error as LoadRateLimitedError).keyspace).toMatch(/^#/)
  })
})

describe('loadRate options', () => {
  const build = (options: ScacheOptions) => () =>
    createScache({ stream: { name: 's' }, log: false, ...options })
  it('are validated at construction', () => {
    const bad: [ScacheOptions, string][] = [
      [{ loadRate: { perSecond: 0, burst: 1 } }, 'loadRate.perSecond'],
      [{ loadRate: { perSecond: Number.NaN, burst: 1 } }, 'loadRate.perSecond'],
      [{ loadRate: { perSecond: 1, burst: 0 } }, 'loadRate.burst'],
      [{ loadRate: { perSecond: 1, burst: 1.5 } }, 'loadRate.burst'],
      [{ loadRate: { perSecond: 1 } as never }, 'loadRate.burst'],
      [{ loadRate: { perSecond: 1, burst: 1, extra: 1 } as never }, 'loadRate.extra'],
      [{ loadRate: 5 as never }, 'loadRate'],
      [
        { keyspaces: { users: { loadRate: { perSecond: -1, burst: 1 } } } },
        'keyspaces.users.loadRate.perSecond',
      ],
    ]
    for (const [options, option] of bad) {
      expect(build(options)).toThrow(ScacheOptionsError)
      try {
        build(options)()
      } catch (error) {
        expect((error as ScacheOptionsError).option).toBe(option)
      }
    }
    expect(build({ loadRate: { perSecond: 0.5, burst: 10 } })).not.toThrow()
  })
})
