import middy from '@middy/core'
import type { Context } from 'aws-lambda'
import { CircuitOpenError, scache, type WithCache } from 'scache'
import { getUser } from '../quickstart/users.js'

const cache = scache({
  ttl: { minMs: 30_000, maxMs: 60_000 },
  // If the database fails (or takes over 1 s), serve the last value for up to 5 more minutes,
  // unless it was invalidated: an invalidated value is never served.
  staleIfErrorMs: 300_000,
  loadTimeoutMs: 1_000,
  // After 5 failures in a row, stop calling the database for 10 s, then let one request probe it.
  circuitBreaker: { failures: 5, resetMs: 10_000, scope: 'keyspace' },
})

export const handler = middy(async (event: { id: string }, context: Context & WithCache) => {
  try {
    const user = await context.cache.getOrLoad(`users:${event.id}`, () => getUser(event.id))
    return { statusCode: user === undefined ? 404 : 200, body: JSON.stringify(user ?? null) }
  } catch (error) {
    // No value to fall back on: the circuit is open (or the load failed).
    if (error instanceof CircuitOpenError) return { statusCode: 503 }
    throw error
  }
}).use(cache)
