export {
  Cache,
  checkKey,
  checkTags,
  checkTtlMs,
  drawTtl,
  type Entry,
  entriesOf,
  hasOwnStore,
  keyspaceOf,
  touchEntry,
} from './cache.js'
export type { Lease } from './fill-guard.js'
export { RECENCY_MS, recencyOf } from './recency.js'
export { type EstimateOptions, estimateBytes } from './size.js'
export type { CacheHit, CacheOptions, KeyspaceOptions, SetOptions, TtlRange } from './types.js'
