import type { TtlRange } from '../../cache/index.js'
import { maxEntriesOption } from '../../cache/size.js'
import { ScacheOptionsError } from '../../errors.js'
import { type MetricsOptions, reservedNames } from '../../telemetry/index.js'
import { describe, integer, isObject, onlyKnown } from '../../validate.js'
import type { CircuitBreakerOptions } from '../breaker.js'
import type { LoadRateOptions } from '../rate-limit.js'
import { MAX_LOAD_TIMEOUT_MS } from './definitions.js'
import type { ScacheKeyspaceOptions, WarmOptions } from './types.js'

/** The options with a structure of their own, each validated here and given its defaults. */

const DAY_MS = 86_400_000

export const ttlRange = (path: string, value: unknown): TtlRange => {
  if (!isObject(value))
    throw new ScacheOptionsError(path, `must be { minMs, maxMs } (got ${describe(value)})`)
  onlyKnown(path, value, ['minMs', 'maxMs'])
  // A TTL of 0 reads as "never expires" in many caches (lru-cache among them); 1 ms is the
  // shortest real TTL.
  const minMs = integer(`${path}.minMs`, value.minMs, 1, 365 * DAY_MS)
  const maxMs = integer(`${path}.maxMs`, value.maxMs, 1, 365 * DAY_MS)
  if (maxMs < minMs)
    throw new ScacheOptionsError(
      `${path}.maxMs`,
      `must be at least ${path}.minMs (${minMs}), got ${maxMs}`,
    )
  return { minMs, maxMs }
}

export const fn = <T>(path: string, value: unknown): T => {
  if (typeof value !== 'function')
    throw new ScacheOptionsError(path, `must be a function (got ${describe(value)})`)
  return value as T
}

export const toList = (value: unknown): unknown[] => (Array.isArray(value) ? value : [value])

/** `keyspaces`: per-keyspace TTL ranges and bounds. */
export const keyspacesOption = (value: unknown): Record<string, ScacheKeyspaceOptions> => {
  const keyspaces: Record<string, ScacheKeyspaceOptions> = {}
  if (value !== undefined) {
    if (!isObject(value))
      throw new ScacheOptionsError('keyspaces', 'must be an object of keyspace names')
    for (const [name, keyspace] of Object.entries(value)) {
      const path = `keyspaces.${name}`
      if (name === '' || name.includes(':'))
        throw new ScacheOptionsError(path, 'must be a keyspace name: non-empty, without ":"')
      if (!isObject(keyspace))
        throw new ScacheOptionsError(
          path,
          `must be { ttl?, negativeTtl?, maxEntries?, maxBytes?, loadRate? }`,
        )
      onlyKnown(path, keyspace, ['ttl', 'negativeTtl', 'maxEntries', 'maxBytes', 'loadRate'])
      keyspaces[name] = {
        ...(keyspace.ttl === undefined ? {} : { ttl: ttlRange(`${path}.ttl`, keyspace.ttl) }),
        ...(keyspace.negativeTtl === undefined
          ? {}
          : { negativeTtl: ttlRange(`${path}.negativeTtl`, keyspace.negativeTtl) }),
        ...(keyspace.maxEntries === undefined
          ? {}
          : { maxEntries: maxEntriesOption(`${path}.maxEntries`, keyspace.maxEntries) }),
        ...(keyspace.maxBytes === undefined
          ? {}
          : {
              maxBytes: integer(
                `${path}.maxBytes`,
                keyspace.maxBytes,
                1_024,
                Number.MAX_SAFE_INTEGER,
              ),
            }),
        ...(keyspace.loadRate === undefined
          ? {}
          : { loadRate: loadRateOption(`${path}.loadRate`, keyspace.loadRate) }),
      }
    }
  }
  return keyspaces
}

/** Most loads a second a bucket may allow, and most tokens it may hold. */
const MAX_LOAD_RATE = 1_000_000

/** `loadRate` (or a keyspace's): a token bucket, `{ perSecond, burst }`. */
export const loadRateOption = (path: string, value: unknown): LoadRateOptions => {
  if (!isObject(value))
    throw new ScacheOptionsError(path, `must be { perSecond, burst } (got ${describe(value)})`)
  onlyKnown(path, value, ['perSecond', 'burst'])
  const perSecond = value.perSecond
  // Fractional rates are useful (one load every 2 s is 0.5); 0 would refuse every load forever.
  if (
    typeof perSecond !== 'number' ||
    !Number.isFinite(perSecond) ||
    perSecond <= 0 ||
    perSecond > MAX_LOAD_RATE
  )
    throw new ScacheOptionsError(
      `${path}.perSecond`,
      `must be a number above 0 and at most ${MAX_LOAD_RATE} (got ${describe(perSecond)})`,
    )
  return { perSecond, burst: integer(`${path}.burst`, value.burst, 1, MAX_LOAD_RATE) }
}

/** `circuitBreaker`, with its defaults; undefined when off. */
export const circuitBreakerOption = (
  value: unknown,
): Required<CircuitBreakerOptions> | undefined => {
  let circuitBreaker: Required<CircuitBreakerOptions> | undefined
  if (value !== undefined) {
    const given = value
    if (!isObject(given))
      throw new ScacheOptionsError(
        'circuitBreaker',
        `must be { failures?, resetMs?, scope? } (got ${describe(given)})`,
      )
    onlyKnown('circuitBreaker', given, ['failures', 'resetMs', 'scope'])
    const scope = given.scope ?? 'keyspace'
    if (scope !== 'keyspace' && scope !== 'global')
      throw new ScacheOptionsError(
        'circuitBreaker.scope',
        `must be 'keyspace' or 'global' (got ${describe(scope)})`,
      )
    circuitBreaker = {
      failures: integer('circuitBreaker.failures', given.failures ?? 5, 1, 1_000),
      resetMs: integer('circuitBreaker.resetMs', given.resetMs ?? 10_000, 1, DAY_MS),
      scope,
    }
  }
  return circuitBreaker
}

/** `warm`: the keys loaded at cold start; undefined when off. */
export const warmOption = (value: unknown): WarmOptions | undefined => {
  let warm: WarmOptions | undefined
  if (value !== undefined) {
    const given = value
    if (!isObject(given))
      throw new ScacheOptionsError(
        'warm',
        `must be { keys, load, timeoutMs? } (got ${describe(given)})`,
      )
    onlyKnown('warm', given, ['keys', 'load', 'timeoutMs'])
    if (
      typeof given.keys !== 'function' &&
      !(Array.isArray(given.keys) && given.keys.every((key) => typeof key === 'string'))
    ) {
      throw new ScacheOptionsError(
        'warm.keys',
        'must be an array of keys or a function returning one',
      )
    }
    warm = {
      keys: given.keys as WarmOptions['keys'],
      load: fn<WarmOptions['load']>('warm.load', given.load),
      ...(given.timeoutMs === undefined
        ? {}
        : { timeoutMs: integer('warm.timeoutMs', given.timeoutMs, 1, MAX_LOAD_TIMEOUT_MS) }),
    }
  }
  return warm
}

/** Inline EMF (`metrics: true` or `{ namespace, dimensions }`); undefined when off. */
export const metricsOption = (value: unknown): Required<MetricsOptions> | undefined => {
  if (value === undefined || value === false) return undefined
  const given = value === true ? {} : value
  if (!isObject(given))
    throw new ScacheOptionsError(
      'metrics',
      `must be a boolean or { namespace?, dimensions? } (got ${describe(given)})`,
    )
  onlyKnown('metrics', given, ['namespace', 'dimensions'])
  const namespace = given.namespace ?? 'scache'
  if (typeof namespace !== 'string' || namespace.length === 0 || namespace.length > 255)
    throw new ScacheOptionsError('metrics.namespace', 'must be a string of 1 to 255 characters')
  const functionName = process.env.AWS_LAMBDA_FUNCTION_NAME
  const dimensions =
    given.dimensions ?? (functionName ? { FunctionName: functionName } : { service: 'scache' })
  if (
    !isObject(dimensions) ||
    Object.keys(dimensions).length === 0 ||
    Object.keys(dimensions).length > 30 ||
    !Object.values(dimensions).every((value) => typeof value === 'string' && value !== '')
  ) {
    throw new ScacheOptionsError(
      'metrics.dimensions',
      'must be an object of 1 to 30 dimension names to non-empty strings',
    )
  }
  const clash = Object.keys(dimensions).find((name) => reservedNames.has(name))
  if (clash !== undefined)
    throw new ScacheOptionsError(
      'metrics.dimensions',
      `must not use ${JSON.stringify(clash)}, a field of the log line`,
    )
  return { namespace, dimensions: dimensions as Record<string, string> }
}
