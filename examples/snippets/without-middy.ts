import type { Context } from 'aws-lambda'
import { createScache } from 'scache'
import { getUser } from '../quickstart/users.js'

const cache = createScache({ stream: { name: 'invalidations' } })

export const handler = async (event: { id: string }, context: Context) => {
  const invocation = await cache.begin(context) // polls the stream if a poll is due
  try {
    return await invocation.cache.getOrLoad(`users:${event.id}`, () => getUser(event.id))
  } finally {
    invocation.end() // writes the log line
  }
}
