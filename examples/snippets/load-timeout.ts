import middy from '@middy/core'
import type { Context } from 'aws-lambda'
import { LoadTimeoutError, scache, type WithCache } from 'scache'
import { getUser } from '../quickstart/users.js'

// No load may hold a request for more than 2 s; a hung database call is given up, not shared.
const cache = scache({ loadTimeoutMs: 2_000 })

export const handler = middy(async (event: { id: string }, context: Context & WithCache) => {
  try {
    return await context.cache.getOrLoad(`users:${event.id}`, () => getUser(event.id))
  } catch (error) {
    if (error instanceof LoadTimeoutError) return { statusCode: 503 }
    throw error
  }
}).use(cache)
