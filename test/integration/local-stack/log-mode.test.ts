import { afterEach, describe, expect, it } from 'vitest'
import type { FunctionLog } from '../../../infra/local/lambda.js'
import {
  CONTAINER_HEADER,
  type InvalidationMode,
  type LocalStack,
  startLocalStack,
} from '../../../infra/local/stack.js'

let stack: LocalStack | undefined
afterEach(async () => {
  await stack?.close()
  stack = undefined
})

const getName = async (url: string, container: number): Promise<unknown> => {
  const response = await fetch(`${url}/users/1`, {
    headers: { [CONTAINER_HEADER]: String(container) },
  })
  return ((await response.json()) as { name?: unknown }).name
}

describe('the local stack in log mode (relay driven as the mapping would, heartbeat)', () => {
  for (const invalidation of ['publisher', 'table-stream'] as InvalidationMode[]) {
    it(`${invalidation}: a write reaches the other containers through the log table`, async () => {
      const logs: FunctionLog[] = []
      stack = await startLocalStack({
        invalidation,
        readMode: 'log',
        containers: 2,
        seed: [{ id: '1', name: 'Ada' }],
        parameters: { PollIntervalMs: '0' },
        onLog: (log) => logs.push(log),
      })
      expect(stack.environment.SCACHE_LOG_TABLE).toBe(stack.logTable)
      expect(await getName(stack.url, 2)).toBe('Ada')
      expect(await getName(stack.url, 2)).toBe('Ada')
      const put = await fetch(`${stack.url}/users/1`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json', [CONTAINER_HEADER]: '1' },
        body: '{"name":"Ada Lovelace"}',
      })
      expect(put.status).toBe(200)
      // The relay drains the stream every 500 ms: the change shows within a few seconds.
      const deadline = Date.now() + 15_000
      let name = await getName(stack.url, 2)
      while (name !== 'Ada Lovelace' && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 100))
        name = await getName(stack.url, 2)
      }
      expect(name).toBe('Ada Lovelace')
      const lines = logs.filter((log) => log.json?.message === 'scache').map((log) => log.json)
      expect(lines.some((line) => line?.evicted === 1)).toBe(true)
      expect(lines.every((line) => line?.streamError === undefined)).toBe(true)
      expect(logs.some((log) => log.container === 'relay' && log.json?.appended !== 0)).toBe(true)
    }, 30_000)
  }
})
