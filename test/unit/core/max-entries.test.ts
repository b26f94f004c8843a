import { describe, expect, it } from 'vitest'
import { MAX_ENTRIES, MAX_TOTAL_ENTRIES } from '../../../src/cache/size.js'
import { resolveOptions } from '../../../src/core/options/index.js'
import { ScacheOptionsError } from '../../../src/errors.js'

const stream = { name: 's' }

const thrown = (options: unknown): unknown => {
  try {
    resolveOptions(options)
  } catch (error) {
    return error
  }
  return undefined
}

describe('maxEntries is bounded by what a store preallocates', () => {
  it.each([
    ['maxEntries', { stream, maxEntries: 2 ** 30 }],
    ['maxEntries', { stream, maxEntries: MAX_ENTRIES + 1 }],
    ['keyspaces.users.maxEntries', { stream, keyspaces: { users: { maxEntries: 2 ** 30 } } }],
  ])('rejects %s past the cap with a reason', (option, options) => {
    const error = thrown(options)
    expect(error).toBeInstanceOf(ScacheOptionsError)
    expect((error as ScacheOptionsError).option).toBe(option)
    expect((error as Error).message).toMatch(
      new RegExp(`must be an integer from 1 to ${MAX_ENTRIES}: .*allocated when the store is made`),
    )
  })

  it('accepts the cap itself, which stays within a small function', () => {
    expect(MAX_ENTRIES).toBeLessThanOrEqual(2 ** 21)
    expect(resolveOptions({ stream, maxEntries: MAX_ENTRIES }).maxEntries).toBe(MAX_ENTRIES)
    expect(
      resolveOptions({ stream, keyspaces: { users: { maxEntries: MAX_ENTRIES } } }).keyspaces.users
        ?.maxEntries,
    ).toBe(MAX_ENTRIES)
  })
})

describe('the stores together hold what one Map can', () => {
  const own = (count: number, extra: object = {}) =>
    Object.fromEntries(
      Array.from({ length: count }, (_, i) => [`k${i}`, { maxEntries: MAX_ENTRIES, ...extra }]),
    )

  it('rejects keyspace stores past 2^24 entries in all, naming keyspaces', () => {
    const error = thrown({ stream, maxEntries: MAX_ENTRIES, keyspaces: own(16) })
    expect(error).toBeInstanceOf(ScacheOptionsError)
    expect((error as ScacheOptionsError).option).toBe('keyspaces')
    expect((error as Error).message).toMatch(/at most 16777216 entries in all.*got 17825792/)
  })

  it('accepts them up to 2^24, and does not count keyspaces that share the default store', () => {
    expect(MAX_TOTAL_ENTRIES).toBe(2 ** 24)
    expect(() =>
      resolveOptions({ stream, maxEntries: MAX_ENTRIES, keyspaces: own(15) }),
    ).not.toThrow()
    const shared = Object.fromEntries(
      Array.from({ length: 40 }, (_, i) => [`s${i}`, { ttl: { minMs: 1_000, maxMs: 2_000 } }]),
    )
    expect(() =>
      resolveOptions({ stream, maxEntries: MAX_ENTRIES, keyspaces: { ...own(15), ...shared } }),
    ).not.toThrow()
  })
})
