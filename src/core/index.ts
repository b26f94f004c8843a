export type { CircuitBreakerOptions } from './breaker.js'
export type { Entries } from './entries.js'
export type {
  Clock,
  OnStreamError,
  ScacheOptions,
  StreamOptions,
  WarmOptions,
} from './options.js'
export { defaults } from './options.js'
export {
  type CacheStats,
  createScache,
  type Diagnostics,
  type Invocation,
  type InvocationContext,
  type LoadOptions,
  type RequestCache,
  Scache,
} from './scache.js'
