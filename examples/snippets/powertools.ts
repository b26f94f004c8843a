import { Logger } from '@aws-lambda-powertools/logger'
import { Metrics } from '@aws-lambda-powertools/metrics'
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware'
import { Tracer } from '@aws-lambda-powertools/tracer'
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware'
import middy from '@middy/core'
import type { Context } from 'aws-lambda'
import { scache, type WithCache } from 'scache'
import { getUser } from '../quickstart/users.js'

const logger = new Logger({ serviceName: 'users-api' })
const metrics = new Metrics({ namespace: 'UsersApi', serviceName: 'users-api' })
const tracer = new Tracer({ serviceName: 'users-api' })

// The log line goes through your Logger (with its correlation keys), its numbers into your
// Metrics (scache.hits, scache.streamMs, …), published with your own metrics by logMetrics, and
// each invocation into your trace as a `scache` subsegment of the handler's.
const cache = scache({ log: logger, metrics, tracer })

export const handler = middy(async (event: { id: string }, context: Context & WithCache) =>
  context.cache.getOrLoad(`users:${event.id}`, () => getUser(event.id)),
)
  .use(captureLambdaHandler(tracer))
  // Before `cache`: Middy runs `after` hooks in reverse, so scache adds this invocation's numbers
  // before logMetrics publishes them (the other way round, each goes out one invocation late).
  .use(logMetrics(metrics))
  .use(cache)
