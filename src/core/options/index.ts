export {
  type IntegerDefinition,
  integerOptions,
  MAX_LOAD_TIMEOUT_MS,
  type OptionDefinition,
  optionDefinitions,
  streamFields,
} from './definitions.js'
export { defaults, resolveOptions } from './resolve.js'
export type {
  Clock,
  LogTableOptions,
  OnStreamError,
  ResolvedOptions,
  ScacheKeyspaceOptions,
  ScacheOptions,
  StreamOptions,
  WarmOptions,
} from './types.js'
