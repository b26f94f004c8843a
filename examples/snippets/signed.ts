import middy from '@middy/core'
import type { Context } from 'aws-lambda'
import { createPublisher, scache, type WithCache } from 'scache'
import { getUser } from '../quickstart/users.js'

// The same secret for every reader and writer (from Secrets Manager or SSM at deploy time).
// Records without a valid signature are skipped and counted: anyone who can PutRecord on the
// stream can no longer evict or clear your caches.
const secret = process.env.SCACHE_SECRET ?? ''

const cache = scache({ secret }) // invalidate() in handlers signs with it too

// A writer elsewhere (a job, another service) signs with the same secret.
export const publisher = createPublisher({ secret })

export const handler = middy(async (event: { id: string }, context: Context & WithCache) =>
  context.cache.getOrLoad(`users:${event.id}`, () => getUser(event.id)),
).use(cache)
