export {
  Cache,
  checkKey,
  checkTags,
  checkTtlMs,
  drawTtl,
  keyspaceOf,
  type Store,
  soleStoreOf,
  storeOf,
} from './cache.js'
export type { Lease } from './fill-guard.js'
export { type EstimateOptions, estimateBytes } from './size.js'
export type { CacheHit, CacheOptions, KeyspaceOptions, SetOptions, TtlRange } from './types.js'
