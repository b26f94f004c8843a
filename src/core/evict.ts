import type { Cache } from '../cache/index.js'
import type { Invalidation } from '../record/index.js'
import type { ClearReason } from '../telemetry/index.js'
import type { Counters } from './invocation.js'
import type { Loads } from './loads.js'

/**
 * Evicts what `invalidation` covers, counted in the invocation's `evicted`; returns how many.
 * The cache also revokes the leases of loads the invalidation overtakes (the fill guard), and
 * those loads are forgotten so that later callers start afresh instead of joining them.
 */
export const applyInvalidation = (
  cache: Cache,
  loads: Loads,
  invalidation: Invalidation,
  counters: Counters,
): number => {
  if (invalidation.all) counters.cleared = 'invalidate-all'
  const patternClears = cache.patternClears
  const evicted = cache.invalidate(invalidation)
  if (cache.patternClears !== patternClears) counters.cleared = 'pattern-limit'
  counters.evicted += evicted
  loads.prune()
  return evicted
}

/** Empties the cache, saying why in the invocation's log line. Always safe. */
export const clearCache = (
  cache: Cache,
  loads: Loads,
  reason: ClearReason,
  counters: Counters,
): void => {
  applyInvalidation(cache, loads, { keys: [], prefixes: [], all: true }, counters)
  counters.cleared = reason
}
