import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { Logger } from '@aws-lambda-powertools/logger'
import { Metrics } from '@aws-lambda-powertools/metrics'
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware'
import middy from '@middy/core'
import type { Context } from 'aws-lambda'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { createScache, scache, type WithCache } from '../../../src/index.js'
import { lambdaContext } from '../../support/containers.js'
import { useKinesis } from '../../support/kinesis.js'

const kinesis = useKinesis()
afterEach(() => {
  vi.restoreAllMocks()
})

/** Every JSON line written to stdout while `run` runs. */
const stdoutLines = async (run: () => Promise<void>): Promise<Record<string, unknown>[]> => {
  const lines: Record<string, unknown>[] = []
  const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    for (const text of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(text))
    return true
  })
  try {
    await run()
  } finally {
    write.mockRestore()
  }
  return lines
}

describe('Powertools for AWS Lambda (the real Logger and Metrics, no hard dependency)', () => {
  it('log: a Powertools Logger writes the line as one entry with its own context', async () => {
    const stream = await kinesis.createStream(1)
    const logger = new Logger({ serviceName: 'users-api' })
    logger.appendKeys({ tenant: 'acme' })
    const instance = createScache({
      stream: { name: stream, client: kinesis.client() },
      log: logger,
    })
    const lines = await stdoutLines(async () => {
      const invocation = await instance.begin()
      await invocation.cache.getOrLoad('users:1', () => 'Ada')
      invocation.end()
    })
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatchObject({
      level: 'INFO',
      message: 'scache',
      service: 'users-api',
      tenant: 'acme',
      misses: 1,
      loads: 1,
      pollSkipped: true,
    })
  })

  it('metrics: a Powertools Metrics buffer gets the numbers, published by Powertools', async () => {
    const stream = await kinesis.createStream(1)
    const metrics = new Metrics({ namespace: 'UsersApi', serviceName: 'users-api' })
    const instance = createScache({
      stream: { name: stream, client: kinesis.client() },
      metrics,
      log: false,
    })
    const lines = await stdoutLines(async () => {
      const invocation = await instance.begin()
      await invocation.cache.getOrLoad('users:1', () => 'Ada')
      invocation.cache.get('users:1')
      invocation.end()
      metrics.publishStoredMetrics() // what Powertools' logMetrics middleware does after the handler
    })
    const emf = lines.find((line) => '_aws' in line) as Record<string, unknown>
    expect(emf).toMatchObject({
      'scache.hits': 1,
      'scache.misses': 1,
      'scache.loads': 1,
      service: 'users-api',
    })
    const declared = (
      emf._aws as { CloudWatchMetrics: { Namespace: string; Metrics: { Name: string }[] }[] }
    ).CloudWatchMetrics[0]
    expect(declared?.Namespace).toBe('UsersApi')
    expect(declared?.Metrics.map((metric) => metric.Name)).toContain('scache.streamMs')
  })

  it('metrics under Middy: logMetrics used before scache publishes each invocation its own numbers', async () => {
    const stream = await kinesis.createStream(1)
    const run = async (order: 'logMetrics first' | 'scache first') => {
      const metrics = new Metrics({ namespace: 'UsersApi', serviceName: 'users-api' })
      const cache = scache({
        stream: { name: stream, client: kinesis.client() },
        metrics,
        log: false,
      })
      const base = middy(async (_event: unknown, context: Context & WithCache) =>
        context.cache.getOrLoad('users:1', () => 'Ada'),
      )
      const handler =
        order === 'logMetrics first'
          ? base.use(logMetrics(metrics)).use(cache)
          : base.use(cache).use(logMetrics(metrics))
      const perInvocation: unknown[] = []
      for (let i = 0; i < 2; i++) {
        const lines = await stdoutLines(async () => {
          await handler({}, lambdaContext() as Context & WithCache)
        })
        perInvocation.push(lines.find((line) => '_aws' in line)?.['scache.misses'])
      }
      return perInvocation
    }
    // The first invocation misses, the second hits: its EMF line must say so, not the previous one.
    expect(await run('logMetrics first')).toEqual([1, 0])
    // The order the README once showed: each invocation's numbers were published with the next's.
    expect(await run('scache first')).not.toEqual([1, 0])
    // And the snippet the docs copy uses the order that works.
    const snippet = readFileSync(
      join(import.meta.dirname, '../../../examples/snippets/powertools.ts'),
      'utf8',
    )
    expect(snippet.indexOf('.use(logMetrics(metrics))')).toBeLessThan(
      snippet.indexOf('.use(cache)'),
    )
  })
})
