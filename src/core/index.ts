export type { CircuitBreakerOptions } from './breaker.js'
export type { Entries } from './entries.js'
export type {
  Clock,
  LogTableOptions,
  OnStreamError,
  ScacheKeyspaceOptions,
  ScacheOptions,
  StreamOptions,
  WarmOptions,
} from './options/index.js'
export { defaults } from './options/index.js'
export type { LoadRateOptions } from './rate-limit.js'
export { createScache, Scache } from './scache.js'
export type {
  CachedEntry,
  CacheStats,
  Diagnostics,
  Invocation,
  InvocationContext,
  LoadOptions,
  RequestCache,
} from './types.js'
