import type { DurableContext, DurableLambdaHandler } from '@aws/durable-execution-sdk-js'
import { LocalDurableTestRunner } from '@aws/durable-execution-sdk-js-testing'
import middy from 'middy7'
import { executionModeDurableContext } from 'middy7/DurableContext'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createPublisher, type InvocationLog, scache, type WithCache } from '../../../src/index.js'
import { Source } from '../../support/containers.js'
import { useKinesis } from '../../support/kinesis.js'

/**
 * Durable functions (Middy 7's DurableContext mode): an execution runs as several invocations,
 * each replaying the handler from the start; a completed step returns its checkpointed result
 * instead of running again. The durable execution SDK's local runner plays Lambda's part (its
 * checkpoint server runs in-process); the invocations run in this process, so they share one
 * scache instance, as the invocations of a warm environment do.
 */

const kinesis = useKinesis()

beforeAll(() => LocalDurableTestRunner.setupTestEnvironment({ skipTime: true }))
afterAll(() => LocalDurableTestRunner.teardownTestEnvironment())

describe('Middy 7 durable functions (kinesalite, the SDK’s local runner)', () => {
  it('a replayed step keeps its checkpointed value; reads outside steps are fresh each replay', async () => {
    const stream = await kinesis.createStream(1)
    const source = new Source()
    source.values.set('users:1', 'Ada')
    const lines: InvocationLog[] = []
    const publisher = createPublisher({ streamName: stream, client: kinesis.client() })
    const middleware = scache({
      stream: { name: stream, client: kinesis.client() },
      pollIntervalMs: 0,
      log: (line) => lines.push(line),
    })
    const outsideSteps: string[] = []
    const handler = middy(
      async (_event: unknown, context: DurableContext & WithCache) => {
        const read = () => context.cache.getOrLoad('users:1', () => source.read('users:1'))
        const inStep = await context.step('read-in-step', async () => read())
        outsideSteps.push(String(await read()))
        // Between the invocations: the value changes and its invalidation is published.
        await context.step('write', async () => {
          source.values.set('users:1', 'Grace')
          await publisher.invalidate('users:1')
        })
        await context.wait({ seconds: 1 })
        return { inStep, outside: await read() }
      },
      { executionMode: executionModeDurableContext },
    ).use(middleware)

    // Middy 7 types its durable handler with Lambda's two arguments; it is the SDK's handler.
    const runner = new LocalDurableTestRunner({
      handlerFunction: handler as unknown as DurableLambdaHandler,
    })
    const execution = await runner.run({ payload: {} })
    expect(execution.getStatus()).toBe('SUCCEEDED')
    const invocations = execution.getInvocations().length
    expect(invocations).toBeGreaterThan(1)
    // The step ran once: its checkpointed 'Ada' is what every replay gets, though 'Grace' was
    // written and invalidated since.
    expect(execution.getResult()).toEqual({ inStep: 'Ada', outside: 'Grace' })
    // Outside steps, each replay reads the cache afresh; the replay after the invalidation reads
    // the new value.
    expect(outsideSteps[0]).toBe('Ada')
    expect(outsideSteps.at(-1)).toBe('Grace')
    console.info('durable', JSON.stringify({ invocations, lines: lines.length, outsideSteps }))
    // An invocation that ends suspended (the wait) never returns to Middy: no after hook runs and
    // it writes no line. The invocation that completes the execution writes one.
    expect(lines.length).toBeLessThan(invocations)
    expect(lines).toHaveLength(1)
    expect(lines[0]?.handlerError).toBeUndefined()
    // Its reads are its own: the read outside the step (a miss: the poll evicted the old value)
    // and the last one (a hit); the replayed step read nothing.
    expect(lines[0]).toMatchObject({ hits: 1, misses: 1, loads: 1, evicted: 1 })
  })
})
