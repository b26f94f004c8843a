export type { OnStreamError, ScacheOptions, StreamOptions } from './options.js'
export { defaults } from './options.js'
export {
  createScache,
  type Invocation,
  type InvocationContext,
  type RequestCache,
  Scache,
} from './scache.js'
