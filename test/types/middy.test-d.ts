// Type tests, checked by `tsc` (npm run typecheck): scache's middleware with Middy 6 (@middy/core)
// and Middy 7 (middy7, an alias of @middy/core@7) with its optional peer
// @aws/durable-execution-sdk-js installed, the case where Middy 7 checks the hooks' context
// against `Context | DurableContext`. Without that peer (its type unresolved) Middy 7 checks
// nothing; the consumer test (test/deploy/consumer.test.ts) compiles that case in a fresh project.
import { Logger } from '@aws-lambda-powertools/logger'
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware'
import { Metrics } from '@aws-lambda-powertools/metrics'
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware'
import { Tracer } from '@aws-lambda-powertools/tracer'
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware'
import middy6 from '@middy/core'
import type { Context } from 'aws-lambda'
import middy7 from 'middy7'
import { type RequestCache, scache, type WithCache } from 'scache'
import { expectTypeOf } from 'vitest'

type Event = { readonly id: string }
const base = async (event: Event, context: Context & WithCache) =>
  context.cache.getOrLoad(`users:${event.id}`, async () => ({ id: event.id }))

// What Lambda passes, once the middleware has put the cache on it.
declare const lambdaContext: Context & WithCache
const logger = new Logger()
const metrics = new Metrics({ namespace: 'Types' })
const tracer = new Tracer()

// Middy 6
const six = middy6(base).use(scache())
expectTypeOf(six).toBeCallableWith({ id: '1' }, lambdaContext)
expectTypeOf(six).toHaveProperty('handler')
expectTypeOf(six).toHaveProperty('use')
const sixChained = middy6<Event>()
  .use(injectLambdaContext(logger))
  .use(captureLambdaHandler(tracer))
  .use(scache())
  .use(logMetrics(metrics))
  .handler(base)
expectTypeOf(sixChained).toBeCallableWith({ id: '1' }, lambdaContext)

// Middy 7, DurableContext resolved
const seven = middy7(base).use(scache())
expectTypeOf(seven).not.toBeNever()
expectTypeOf(seven).toBeCallableWith({ id: '1' }, lambdaContext)
expectTypeOf(seven).toHaveProperty('handler')
const sevenChained = middy7<Event>()
  .use(injectLambdaContext(logger))
  .use(captureLambdaHandler(tracer))
  .use(scache())
  .use(logMetrics(metrics))
  .handler(base)
expectTypeOf(sevenChained).not.toBeNever()
expectTypeOf(sevenChained).toBeCallableWith({ id: '1' }, lambdaContext)

// The cache reaches the handler's context type through the middleware, with both majors.
middy6<Event>()
  .use(scache())
  .handler(async (_event: Event, context) => {
    expectTypeOf(context.cache).toEqualTypeOf<RequestCache>()
  })
middy7<Event>()
  .use(scache())
  .handler(async (_event: Event, context) => {
    expectTypeOf(context.cache).toEqualTypeOf<RequestCache>()
  })
