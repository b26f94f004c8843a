import middy6 from '@middy/core'
import type { Context } from 'aws-lambda'
import middy7 from 'middy7'
import { describe, expect, it } from 'vitest'
import {
  createPublisher,
  type InvocationLog,
  type ScacheMiddleware,
  scache,
  type WithCache,
} from '../../../src/index.js'
import { lambdaContext, Source } from '../../support/containers.js'
import { useKinesis } from '../../support/kinesis.js'

const kinesis = useKinesis()

type Event = { readonly op: 'get' | 'put' | 'fail'; readonly value?: string }

type Handler = (event: Event, context: Context & WithCache) => Promise<string | undefined>
type Wrapped = (event: Event, context: Context & WithCache) => Promise<string | undefined>

// The same handler under each major: Middy 7 runs the hooks through its own executor.
const majors: Record<string, (handler: Handler, middleware: ScacheMiddleware) => Wrapped> = {
  'Middy 6': (handler, middleware) => middy6(handler).use(middleware),
  'Middy 7': (handler, middleware) => middy7(handler).use(middleware),
}

describe.each(Object.entries(majors))('%s (kinesalite)', (_major, wrap) => {
  it('puts the cache on the context, hits, crosses an invalidation, logs after an error', async () => {
    const stream = await kinesis.createStream(1)
    const source = new Source()
    source.values.set('users:1', 'Ada')
    const container = () => {
      const logs: InvocationLog[] = []
      const middleware = scache({
        stream: { name: stream, client: kinesis.client() },
        publisher: createPublisher({ streamName: stream, client: kinesis.client() }),
        pollIntervalMs: 0,
        log: (line) => logs.push(line),
      })
      const handler = wrap(async (event, context) => {
        if (event.op === 'fail') throw new Error('handler failed')
        if (event.op === 'put') {
          source.values.set('users:1', event.value ?? '')
          await context.cache.invalidate('users:1')
        }
        return context.cache.getOrLoad('users:1', () => source.read('users:1'))
      }, middleware)
      return {
        logs,
        invoke: (event: Event) => handler(event, lambdaContext() as Context & WithCache),
      }
    }
    const [one, two] = [container(), container()]

    expect(await one.invoke({ op: 'get' })).toBe('Ada')
    expect(await two.invoke({ op: 'get' })).toBe('Ada')
    expect(await two.invoke({ op: 'get' })).toBe('Ada')
    expect(two.logs.at(-1)).toMatchObject({ hits: 1, misses: 0 })
    expect(source.loads).toBe(2)

    expect(await one.invoke({ op: 'put', value: 'Grace' })).toBe('Grace')
    // The other container evicts on its next poll (before every request here).
    let seen: unknown
    for (let attempt = 0; attempt < 50 && seen !== 'Grace'; attempt++) {
      seen = await two.invoke({ op: 'get' })
      if (seen !== 'Grace') await new Promise((resolve) => setTimeout(resolve, 100))
    }
    expect(seen).toBe('Grace')
    expect(two.logs.some((line) => line.evicted === 1)).toBe(true)

    await expect(two.invoke({ op: 'fail' })).rejects.toThrow('handler failed')
    expect(two.logs.at(-1)).toMatchObject({ handlerError: true })
  })
})
