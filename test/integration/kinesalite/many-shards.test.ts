import { describe, expect, it } from 'vitest'
import { createPublisher, createScache } from '../../../src/index.js'
import { useKinesis } from '../../support/kinesis.js'

const kinesis = useKinesis()

describe('many shards (kinesalite)', () => {
  it('polls 12 shards in parallel without a MaxListenersExceededWarning, and misses nothing', async () => {
    const stream = await kinesis.createStream(12)
    const warnings: Error[] = []
    const onWarning = (warning: Error) => warnings.push(warning)
    process.on('warning', onWarning)
    try {
      const instance = createScache({
        stream: { name: stream, client: kinesis.client() },
        pollIntervalMs: 0,
        log: false,
      })
      const keys = Array.from({ length: 40 }, (_, i) => `users:${i}`)
      for (const key of keys) instance.cache.set(key, key)
      let first = await instance.begin()
      expect(first.poll?.shardsPolled).toBe(12)
      first.end()
      const publisher = createPublisher({ streamName: stream, client: kinesis.client() })
      // Partition keys spread the records over the shards.
      for (const key of keys) await publisher.invalidate(key)
      let evicted = 0
      for (let i = 0; i < 5 && evicted < keys.length; i++) {
        first = await instance.begin()
        evicted += first.end().evicted
      }
      expect(evicted).toBe(keys.length)
      // Warnings are emitted on the next tick.
      await new Promise((resolve) => setImmediate(resolve))
      expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([])
    } finally {
      process.off('warning', onWarning)
    }
  })
})
