import middy from '@middy/core'
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda'
import { scache, type WithCache } from 'scache'

const cache = scache()

// GET /health: this container's cache since its cold start (hit ratio, time saved and spent on
// the stream, last poll age, staleness), and, with ?full, every shard's position.
export const handler = middy(
  async (event: APIGatewayProxyEventV2, context: Context & WithCache) => {
    const body =
      event.queryStringParameters?.full === undefined
        ? context.cache.stats()
        : cache.instance.diagnostics()
    return { statusCode: 200, body: JSON.stringify(body) }
  },
).use(cache)
