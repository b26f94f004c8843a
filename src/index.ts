export {
  Cache,
  type CacheHit,
  type CacheOptions,
  type EstimateOptions,
  estimateBytes,
  type KeyspaceOptions,
  type SetOptions,
  type TtlRange,
} from './cache/index.js'
export {
  type CachedEntry,
  type CacheStats,
  type CircuitBreakerOptions,
  type Clock,
  createScache,
  type Diagnostics,
  defaults,
  type Entries,
  type Invocation,
  type InvocationContext,
  type LoadOptions,
  type LoadRateOptions,
  type LogTableOptions,
  type OnStreamError,
  type RequestCache,
  Scache,
  type ScacheKeyspaceOptions,
  type ScacheOptions,
  type StreamOptions,
  type WarmOptions,
} from './core/index.js'
export {
  CircuitOpenError,
  InvalidKeyError,
  LoadRateLimitedError,
  LoadTimeoutError,
  PublishError,
  redactKey,
  ScacheError,
  ScacheOptionsError,
} from './errors.js'
export {
  etagOf,
  type HttpCaching,
  type HttpCachingOptions,
  type HttpEntry,
  type HttpRequest,
  httpCaching,
} from './http/index.js'
export {
  createHeartbeat,
  createLogClient,
  createRelay,
  type KinesisEventRecord,
  type LogClient,
  type LogEntry,
  LogSource,
  type LogSourceOptions,
  type RelayEvent,
  type RelayHandler,
  type RelayLogLine,
  type RelayOptions,
} from './log/index.js'
export {
  type LambdaContext,
  type MiddyLikeRequest,
  type ScacheMiddleware,
  scache,
  type WithCache,
} from './middleware/index.js'
export {
  type Acknowledged,
  createPublisher,
  type PublishCallOptions,
  type Publisher,
  type PublisherOptions,
  type PublishResult,
  type StreamTarget,
} from './publish/index.js'
export {
  type DynamoDbChange,
  type DynamoDbChangeRecord,
  type DynamoDbDecoderOptions,
  type DynamoDbKeyMapper,
  dynamoDbDecoder,
  parseDynamoDbChange,
} from './record/dynamodb.js'
export {
  type DecodeResult,
  decodeRecord,
  decodeWith,
  type EncodedRecord,
  encodeRecord,
  type Invalidation,
  type RecordDecoder,
  recordLimits,
  type SkipReason,
} from './record/index.js'
export { patternLimits } from './record/pattern.js'
export type {
  InvalidationSource,
  SourceError,
  SourcePollOptions,
  SourcePollResult,
  SourcePosition,
} from './source/index.js'
export {
  createDefaultClient,
  type PollOptions,
  type PollResult,
  type ReadRecord,
  type RestartReason,
  type SkippedRecord,
  type StreamError,
  StreamReader,
  type StreamReaderOptions,
} from './stream/index.js'
export type {
  ClearReason,
  InvocationLog,
  LoggerLike,
  MetricsLike,
  MetricsOptions,
  SegmentLike,
  SubsegmentLike,
  TracerLike,
  WarmReport,
} from './telemetry/index.js'
