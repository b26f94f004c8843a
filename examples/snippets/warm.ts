import middy from '@middy/core'
import type { Context } from 'aws-lambda'
import { scache, type WithCache } from 'scache'
import { getUser } from '../quickstart/users.js'

const cache = scache({
  warm: {
    // The hottest keys, loaded in one batch once per container, before it serves from cache.
    keys: ['users:1', 'users:2', 'users:3'],
    load: async (keys) =>
      new Map(
        await Promise.all(keys.map(async (key) => [key, await getUser(key.slice(6))] as const)),
      ),
  },
})

// Optional: warm during the Lambda init phase (top-level await in an ES module); otherwise the
// first invocation does it.
await cache.instance.warm()

export const handler = middy(async (event: { id: string }, context: Context & WithCache) =>
  context.cache.getOrLoad(`users:${event.id}`, () => getUser(event.id)),
).use(cache)
