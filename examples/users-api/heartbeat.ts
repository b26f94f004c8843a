import { createHeartbeat } from 'scache'

// Invoked every minute by a schedule, it puts a heartbeat record on the stream every
// HEARTBEAT_INTERVAL_MS through that minute: the log moves while writers are quiet, so the
// API's containers can tell a quiet log from a stuck relay.
export const handler = createHeartbeat({
  stream: process.env.SCACHE_STREAM_NAME ?? '',
  intervalMs: Number(process.env.HEARTBEAT_INTERVAL_MS ?? '5000'),
})
