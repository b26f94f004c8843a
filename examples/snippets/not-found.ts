import middy from '@middy/core'
import type { Context } from 'aws-lambda'
import { scache, type WithCache } from 'scache'
import { getUser } from '../quickstart/users.js'

const cache = scache({
  ttl: { minMs: 30_000, maxMs: 60_000 },
  // A missing user (the loader returns undefined) is cached too, but only for 2–5 s: repeated
  // lookups of an unknown id cost one read, and a user created meanwhile shows up soon.
  negativeTtl: { minMs: 2_000, maxMs: 5_000 },
})

export const handler = middy(async (event: { id: string }, context: Context & WithCache) => {
  const user = await context.cache.getOrLoad(`users:${event.id}`, () => getUser(event.id))
  return user === undefined ? { statusCode: 404 } : { statusCode: 200, body: JSON.stringify(user) }
}).use(cache)
