import middy from '@middy/core'
import type { Context } from 'aws-lambda'
import { LoadRateLimitedError, scache, type WithCache } from 'scache'
import { getUser } from '../quickstart/users.js'

const cache = scache({
  ttl: { minMs: 30_000, maxMs: 60_000 },
  // Over the limit, serve the last value if it expired less than 5 minutes ago.
  staleIfErrorMs: 300_000,
  // Each container starts at most 20 user loads at once, then 5 a second: a fleet of 100 cold
  // containers asks the database for at most 2,000 at once, then 500 a second.
  keyspaces: { users: { loadRate: { perSecond: 5, burst: 20 } } },
})

export const handler = middy(async (event: { id: string }, context: Context & WithCache) => {
  try {
    const user = await context.cache.getOrLoad(`users:${event.id}`, () => getUser(event.id))
    return { statusCode: user === undefined ? 404 : 200, body: JSON.stringify(user ?? null) }
  } catch (error) {
    // Nothing stale to serve: tell the client when to come back.
    if (error instanceof LoadRateLimitedError)
      return {
        statusCode: 429,
        headers: { 'Retry-After': String(Math.ceil(error.retryInMs / 1_000)) },
      }
    throw error
  }
}).use(cache)
