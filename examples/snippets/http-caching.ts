import middy from '@middy/core'
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda'
import { httpCaching, scache, type WithCache } from 'scache'
import { getUser } from '../quickstart/users.js'

const cache = scache({ ttl: { minMs: 30_000, maxMs: 60_000 }, maxStalenessMs: 10_000 })

export const handler = middy(
  async (event: APIGatewayProxyEventV2, context: Context & WithCache) => {
    const id = event.pathParameters?.id ?? ''
    const user = await context.cache.getOrLoad(`users:${id}`, () => getUser(id))
    if (user === undefined) return { statusCode: 404 }
    // ETag: a hash of the value, the same in every container. max-age: the entry's remaining TTL,
    // at most 5 s here, and never past the staleness bound. Not cached or bypassed: no-cache.
    const http = httpCaching(event, context.cache.entry(`users:${id}`) ?? { value: user }, {
      scope: 'public',
      maxAgeMs: 5_000, // browsers
      sharedMaxAgeMs: 10_000, // CloudFront
    })
    if (http.notModified) return { statusCode: 304, headers: http.headers }
    return { statusCode: 200, headers: http.headers, body: JSON.stringify(user) }
  },
).use(cache)
