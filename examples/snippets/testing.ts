import middy from '@middy/core'
import type { Context } from 'aws-lambda'
import { createPublisher, scache, type WithCache } from 'scache'
import { createTestClock, MemoryKinesis } from 'scache/testing'

// In a test: the stream in memory, a clock moved by hand, the handler as you deploy it.
export const setUp = () => {
  const clock = createTestClock()
  const kinesis = new MemoryKinesis({ now: clock.now })
  const stream = kinesis.createStream('invalidations')
  const users = new Map([['42', 'Ada']])
  const handler = middy(async (event: { id: string }, context: Context & WithCache) =>
    context.cache.getOrLoad(`users:${event.id}`, () => users.get(event.id)),
  ).use(
    scache({
      stream: { name: stream, client: kinesis.client },
      clock: { now: clock.now },
      log: false,
    }),
  )
  const publisher = createPublisher({ streamName: stream, client: kinesis.client })
  return { clock, kinesis, users, handler, publisher }
}
