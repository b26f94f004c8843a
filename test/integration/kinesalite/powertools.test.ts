import { Logger } from '@aws-lambda-powertools/logger'
import { Metrics } from '@aws-lambda-powertools/metrics'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { createScache } from '../../../src/index.js'
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
})
