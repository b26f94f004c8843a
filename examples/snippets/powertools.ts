import { Logger } from '@aws-lambda-powertools/logger'
import { Metrics } from '@aws-lambda-powertools/metrics'
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware'
import middy from '@middy/core'
import type { Context } from 'aws-lambda'
import { scache, type WithCache } from 'scache'
import { getUser } from '../quickstart/users.js'

const logger = new Logger({ serviceName: 'users-api' })
const metrics = new Metrics({ namespace: 'UsersApi', serviceName: 'users-api' })

// The log line goes through your Logger (with its correlation keys), and its numbers into your
// Metrics (scache.hits, scache.streamMs, …), published with your own metrics by logMetrics.
const cache = scache({ log: logger, metrics })

export const handler = middy(async (event: { id: string }, context: Context & WithCache) =>
  context.cache.getOrLoad(`users:${event.id}`, () => getUser(event.id)),
)
  .use(cache)
  .use(logMetrics(metrics))
