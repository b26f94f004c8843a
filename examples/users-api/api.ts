import middy from '@middy/core'
import { scache } from 'scache'
import { usersApi } from './routes.js'
import { settings } from './settings.js'
import { UsersTable } from './table.js'

// Module scope: one cache per warm container. The stream comes from SCACHE_STREAM_NAME.
const cache = scache({
  ttl: settings.ttl,
  negativeTtl: { minMs: 1_000, maxMs: 5_000 },
  pollIntervalMs: settings.pollIntervalMs,
  maxStalenessMs: settings.maxStalenessMs,
  // A hung table fails a miss in 2 s (the client gives up first), not at the function's timeout.
  loadTimeoutMs: 2_000,
  metrics: true,
})

// Writers publish: after a write, `invalidate` evicts here and puts the key on the stream, and
// every other container evicts it on its next poll.
export const handler = middy(
  usersApi(new UsersTable(settings.table), (key, context) => context.cache.invalidate(key)),
).use(cache)
