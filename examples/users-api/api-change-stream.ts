import middy from '@middy/core'
import { dynamoDbDecoder, scache } from 'scache'
import { usersApi } from './routes.js'
import { settings } from './settings.js'
import { UsersTable } from './table.js'

// The table streams its own changes into the invalidation stream (Kinesis Data Streams for
// DynamoDB), and the decoder turns each change into an invalidation: writers publish nothing.
const cache = scache({
  ttl: settings.ttl,
  negativeTtl: { minMs: 1_000, maxMs: 5_000 },
  pollIntervalMs: settings.pollIntervalMs,
  maxStalenessMs: settings.maxStalenessMs,
  // A hung table fails a miss in 2 s (the client gives up first), not at the function's timeout.
  loadTimeoutMs: 2_000,
  metrics: true,
  decoders: [dynamoDbDecoder({ tables: { [settings.table]: ({ id }) => `users:${id}` } })],
})

// The writer's own container evicts at once (read-your-writes); the others when the change
// record arrives, whoever made the change: this API, a script, the console.
export const handler = middy(
  usersApi(new UsersTable(settings.table), (key, context) => {
    context.cache.evict(key)
  }),
).use(cache)
