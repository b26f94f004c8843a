import middy from '@middy/core'
import type { Context } from 'aws-lambda'
import { createPublisher, scache, type WithCache } from 'scache'

const cache = scache()

export const handler = middy(async (event: { region: string }, context: Context & WithCache) => {
  // `*` stands for any run of characters within one `:`-separated segment: this evicts
  // `users:42:profile` and `users:7:profile`, not `users:42:settings`.
  await context.cache.invalidatePattern('users:*:profile')
  // `*` may sit inside a segment: every day of one month.
  await context.cache.invalidatePattern(`sales:${event.region}:2026-01-*`)
  return { statusCode: 204 }
}).use(cache)

// From a writer elsewhere, several at once.
export const publisher = createPublisher()
export const onSchemaChange = () =>
  publisher.invalidatePattern(['users:*:profile', 'users:*:avatar'])
