import middy from '@middy/core'
import type { APIGatewayProxyEventV2, APIGatewayProxyResultV2, Context } from 'aws-lambda'
import { scache, type WithCache } from 'scache'
import { getUser, putUser } from './users.js'

// Module scope: one cache per warm container, kept across the invocations it serves.
// The stream comes from SCACHE_STREAM_NAME; region and credentials from the Lambda environment.
const cache = scache({
  ttl: { minMs: 30_000, maxMs: 60_000 },
  pollIntervalMs: 1_000,
  maxStalenessMs: 10_000,
})

const getOrPutUser = async (
  event: APIGatewayProxyEventV2,
  context: Context & WithCache,
): Promise<APIGatewayProxyResultV2> => {
  const id = event.pathParameters?.id
  if (id === undefined) return { statusCode: 400 }
  const key = `users:${id}`

  if (event.requestContext.http.method === 'PUT') {
    const { name } = JSON.parse(event.body ?? '{}') as { name?: string }
    await putUser({ id, name: name ?? '' })
    // Evicts here at once, and in every other container once they read the stream.
    await context.cache.invalidate(key)
    return { statusCode: 204 }
  }

  // A hit costs nothing; a miss loads once (concurrent misses share the load) and records
  // how long it took, credited as time saved on every later hit.
  const user = await context.cache.getOrLoad(key, () => getUser(id))
  return user === undefined ? { statusCode: 404 } : { statusCode: 200, body: JSON.stringify(user) }
}

export const handler = middy(getOrPutUser).use(cache)
