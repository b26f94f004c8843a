import middy from '@middy/core'
import type { Context } from 'aws-lambda'
import { createPublisher, scache, type WithCache } from 'scache'
import { getUser } from '../quickstart/users.js'

// Three copies of the invalidation stream: each container reads one (picked when it starts),
// so the fleet has 3 × 5 GetRecords per second per shard to share instead of 5.
const streams = ['invalidations-1', 'invalidations-2', 'invalidations-3']

const cache = scache({ stream: { names: streams } }) // invalidate() here writes to all three

// Writers elsewhere put every invalidation on each copy; it resolves once all acknowledged it.
export const publisher = createPublisher({ streamNames: streams })

export const handler = middy(async (event: { id: string }, context: Context & WithCache) =>
  context.cache.getOrLoad(`users:${event.id}`, () => getUser(event.id)),
).use(cache)
