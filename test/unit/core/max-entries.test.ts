import { describe, expect, it } from 'vitest'
import { MAX_ENTRIES } from '../../../src/cache/size.js'
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
