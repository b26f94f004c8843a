export { type MetricsOptions, reservedNames, toEmf } from './emf.js'
export type { ClearReason, InvocationLog, WarmReport } from './log-line.js'
export { round } from './log-line.js'
export {
  addMetrics,
  isLogger,
  isMetrics,
  type LoggerLike,
  logThrough,
  type MetricsLike,
} from './powertools.js'
export { InvocationLogRecord, serializeLine } from './serialize.js'
export {
  InvocationSpan,
  isTracer,
  type SegmentLike,
  type SubsegmentLike,
  type TracerLike,
} from './tracing.js'
