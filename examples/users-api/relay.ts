import { createRelay } from 'scache'

// The relay of log mode: the stream's event source mapping invokes it with each shard's
// batches, and it appends them to the log table the API's containers read. It decodes as those
// containers do: scache's own records (the API publishes them after each write).
export const handler = createRelay({
  table: process.env.SCACHE_LOG_TABLE ?? '',
  copies: Number(process.env.SCACHE_LOG_COPIES ?? '1'),
})
