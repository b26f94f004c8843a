import type { APIGatewayProxyEventV2, APIGatewayProxyResultV2, Context } from 'aws-lambda'
import { httpCaching, type WithCache } from 'scache'
import type { UsersTable } from './table.js'

type Result = Exclude<APIGatewayProxyResultV2, string>

/** What the API does once a write reached the table: evict (and maybe publish) the user's key. */
export type AfterWrite = (key: string, context: Context & WithCache) => Promise<void> | void

const json = (statusCode: number, body: unknown): Result => ({
  statusCode,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
})

const ID = /^[A-Za-z0-9_-]{1,64}$/
const MAX_NAME = 256

/** The request body of a PUT: `{ "name": "…" }`, or undefined when it is not that. */
const nameIn = (event: APIGatewayProxyEventV2): string | undefined => {
  try {
    const text = event.isBase64Encoded
      ? Buffer.from(event.body ?? '', 'base64').toString()
      : (event.body ?? '')
    const { name } = JSON.parse(text) as { name?: unknown }
    return typeof name === 'string' && name.length > 0 && name.length <= MAX_NAME ? name : undefined
  } catch {
    return undefined
  }
}

/**
 * GET, PUT and DELETE /users/{id}: reads through the cache, writes to the table and then call
 * `afterWrite`, which is where the two variants of the example differ.
 */
export const usersApi =
  (users: UsersTable, afterWrite: AfterWrite) =>
  async (event: APIGatewayProxyEventV2, context: Context & WithCache): Promise<Result> => {
    const id = event.pathParameters?.id
    if (id === undefined || !ID.test(id)) return json(400, { message: 'bad user id' })
    const key = `users:${id}`

    switch (event.requestContext.http.method) {
      case 'GET': {
        // A hit costs nothing; a miss reads the table once (concurrent misses share the read),
        // and a missing user is cached as "not found" for the short negativeTtl.
        const user = await context.cache.getOrLoad(key, () => users.get(id))
        if (user === undefined) return json(404, { message: 'no such user' })
        // An ETag of the value, the same from every container, and a max-age within the entry's
        // TTL and the staleness bound: a browser revalidating an unchanged user gets a 304.
        const http = httpCaching(event, context.cache.entry(key) ?? { value: user })
        if (http.notModified) return { statusCode: 304, headers: http.headers }
        const ok = json(200, user)
        return { ...ok, headers: { ...ok.headers, ...http.headers } }
      }
      case 'PUT': {
        const name = nameIn(event)
        if (name === undefined) return json(400, { message: 'body must be {"name": "…"}' })
        await users.put({ id, name })
        await afterWrite(key, context)
        return json(200, { id, name })
      }
      case 'DELETE':
        await users.delete(id)
        await afterWrite(key, context)
        return { statusCode: 204 }
      default:
        return json(405, { message: 'method not allowed' })
    }
  }
