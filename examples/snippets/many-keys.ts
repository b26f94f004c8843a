import middy from '@middy/core'
import type { Context } from 'aws-lambda'
import { scache, type WithCache } from 'scache'
import { getUser, type User } from '../quickstart/users.js'

const cache = scache({ negativeTtl: { minMs: 2_000, maxMs: 5_000 } })

// Stands in for one DynamoDB BatchGetItem: rows found, keyed by cache key; missing ids left out.
const getUsers = async (keys: string[]): Promise<Map<string, User>> => {
  const users = await Promise.all(keys.map((key) => getUser(key.slice('users:'.length))))
  return new Map(users.flatMap((user) => (user === undefined ? [] : [[`users:${user.id}`, user]])))
}

export const handler = middy(async (event: { ids: string[] }, context: Context & WithCache) => {
  // Hits come from the cache; every miss is loaded in one call, and cached.
  const users = await context.cache.getOrLoadMany(
    event.ids.map((id) => `users:${id}`),
    getUsers,
  )
  return [...users.values()]
}).use(cache)
