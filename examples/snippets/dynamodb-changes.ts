import middy from '@middy/core'
import type { Context } from 'aws-lambda'
import { dynamoDbDecoder, scache, type WithCache } from 'scache'
import { getUser } from '../quickstart/users.js'

// The Users table streams its item changes into the invalidation stream (its Kinesis streaming
// destination): every change evicts the item's cache key in every container. Writers publish
// nothing; scache's own records on the same stream still work.
const cache = scache({
  decoders: [dynamoDbDecoder({ tables: { Users: ({ id }) => `users:${id}` } })],
})

export const handler = middy(async (event: { id: string }, context: Context & WithCache) =>
  context.cache.getOrLoad(`users:${event.id}`, () => getUser(event.id)),
).use(cache)
