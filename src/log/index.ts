export { AppendError, type AppendTally } from './append.js'
export { createLogClient, type LogClient } from './client.js'
export {
  ANCHOR_PAGE_ENTRIES,
  anchorQuery,
  appendInput,
  copyKey,
  DEFAULT_RETENTION_MS,
  ENTRY_MAX_BYTES,
  fromItem,
  headQuery,
  heartbeatRecord,
  type Item,
  isHeartbeat,
  isHeartbeatRecord,
  itemBytes,
  type LogEntry,
  POLL_PAGE_ENTRIES,
  pollQuery,
  toItem,
} from './entry.js'
export {
  createHeartbeat,
  DEFAULT_HEARTBEAT_INTERVAL_MS,
  HEARTBEAT_PERIOD_MS,
  type HeartbeatOptions,
  type HeartbeatReport,
} from './heartbeat.js'
export { MAX_ENTRIES_PER_BATCH, type PackedBatch, packBatch, type RelayRecord } from './pack.js'
export {
  createRelay,
  type KinesisEventRecord,
  MAX_COPIES,
  type QueueEventRecord,
  type RelayContext,
  type RelayEvent,
  type RelayHandler,
  type RelayLogLine,
  type RelayOptions,
} from './relay.js'
export { LogSource, type LogSourceOptions } from './source.js'
