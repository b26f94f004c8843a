import { createRelay, dynamoDbDecoder } from 'scache'

// The relay of log mode when the table streams its own changes: it decodes them with the same
// decoder as the API's containers (api-change-stream.ts), so the log holds the same evictions.
export const handler = createRelay({
  table: process.env.SCACHE_LOG_TABLE ?? '',
  copies: Number(process.env.SCACHE_LOG_COPIES ?? '1'),
  decoders: [
    dynamoDbDecoder({ tables: { [process.env.USERS_TABLE ?? '']: ({ id }) => `users:${id}` } }),
  ],
})
