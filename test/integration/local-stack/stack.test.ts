import { DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb'
import { afterEach, describe, expect, it } from 'vitest'
import { type FunctionLog, FunctionPool } from '../../../infra/local/lambda.js'
import {
  CONTAINER_HEADER,
  type InvalidationMode,
  type LocalStack,
  startLocalStack,
} from '../../../infra/local/stack.js'
import type { InvocationLog } from '../../../src/index.js'

let stack: LocalStack | undefined
afterEach(async () => {
  await stack?.close()
  stack = undefined
})

const start = async (invalidation: InvalidationMode, parameters: Record<string, string> = {}) => {
  const logs: FunctionLog[] = []
  stack = await startLocalStack({
    invalidation,
    containers: 3,
    seed: [{ id: '1', name: 'Ada' }],
    // Poll before every request: a change is seen by the next request.
    parameters: { PollIntervalMs: '0', ...parameters },
    onLog: (log) => logs.push(log),
  })
  const url = stack.url
  const call = async (
    method: string,
    path: string,
    options: { container?: number; body?: string } = {},
  ) => {
    const response = await fetch(`${url}${path}`, {
      method,
      headers: {
        'content-type': 'application/json',
        ...(options.container === undefined
          ? {}
          : { [CONTAINER_HEADER]: String(options.container) }),
      },
      ...(options.body === undefined ? {} : { body: options.body }),
    })
    return {
      status: response.status,
      container: response.headers.get(CONTAINER_HEADER),
      body: (await response.json().catch(() => undefined)) as unknown,
    }
  }
  /** scache's log line of the last request served by `container`. */
  const lastLine = (container: string) =>
    logs.filter((log) => log.container === container && log.json?.message === 'scache').at(-1)
      ?.json as unknown as InvocationLog
  return { stack, call, logs, lastLine }
}

describe('the local stack (template.yaml in one process, over HTTP)', () => {
  it('publisher: a write through one container evicts the key in the others', async () => {
    const { call, lastLine } = await start('publisher')
    for (const container of [1, 2, 3]) {
      expect(await call('GET', '/users/1', { container })).toMatchObject({
        status: 200,
        container: `users-publisher-${container}`,
        body: { id: '1', name: 'Ada' },
      })
    }
    expect(await call('GET', '/users/1', { container: 2 })).toMatchObject({ status: 200 })
    expect(lastLine('users-publisher-2')).toMatchObject({ hits: 1, misses: 0 })

    const put = await call('PUT', '/users/1', { container: 1, body: '{"name":"Ada Lovelace"}' })
    expect(put).toMatchObject({ status: 200, body: { id: '1', name: 'Ada Lovelace' } })
    for (const container of [2, 3]) {
      expect(await call('GET', '/users/1', { container })).toMatchObject({
        body: { name: 'Ada Lovelace' },
      })
      expect(lastLine(`users-publisher-${container}`)).toMatchObject({
        evicted: 1,
        records: 1,
        misses: 1,
      })
    }
    // Unpinned requests go round the containers.
    const served = new Set<string | null>()
    for (let i = 0; i < 3; i++) served.add((await call('GET', '/users/1')).container)
    expect(served.size).toBe(3)
  })

  it('table-stream: any writer’s change, even straight to the table, evicts in every container', async () => {
    const { stack, call, lastLine } = await start('table-stream')
    for (const container of [1, 2, 3]) await call('GET', '/users/1', { container })

    // A write that does not go through the API: a script, the console, another service.
    const dynamodb = new DynamoDBClient({ endpoint: stack.dynamoDbEndpoint })
    await dynamodb.send(
      new PutItemCommand({
        TableName: stack.table,
        Item: { id: { S: '1' }, name: { S: 'Grace Hopper' } },
      }),
    )
    dynamodb.destroy()
    for (const container of [1, 2, 3]) {
      expect(await call('GET', '/users/1', { container })).toMatchObject({
        body: { name: 'Grace Hopper' },
      })
      expect(lastLine(`users-table-stream-${container}`)).toMatchObject({
        evicted: 1,
        records: 1,
        skippedRecords: 0,
      })
    }

    // Through the API: the writer evicts at once (read-your-writes); the others from the record.
    await call('DELETE', '/users/1', { container: 1 })
    expect(await call('GET', '/users/1', { container: 1 })).toMatchObject({ status: 404 })
    expect(await call('GET', '/users/1', { container: 3 })).toMatchObject({ status: 404 })
    expect(lastLine('users-table-stream-3')).toMatchObject({ evicted: 1, records: 1 })
  })

  it('answers as an HTTP API does: unknown routes, bad input', async () => {
    const { call } = await start('publisher')
    expect(await call('GET', '/nope')).toMatchObject({
      status: 404,
      body: { message: 'Not Found' },
    })
    expect(await call('POST', '/users/1')).toMatchObject({ status: 404 })
    expect(await call('GET', '/users/a%20b')).toMatchObject({ status: 400 })
    expect(await call('PUT', '/users/2', { body: 'not json' })).toMatchObject({ status: 400 })
    expect(await call('GET', '/users/404')).toMatchObject({ status: 404 })
    expect(await call('GET', '/users/1', { container: 9 })).toMatchObject({ status: 400 })
  })
})

describe('simulated warm containers (FunctionPool)', () => {
  const module = new URL('../../support/functions/overlap.ts', import.meta.url).href

  it('each container is its own module scope and serves one request at a time', async () => {
    const pool = await FunctionPool.start({ name: 'overlap', module, containers: 3 })
    try {
      // Ten at once, all pinned to container 1: run one after another.
      const pinned = await Promise.all(
        Array.from({ length: 10 }, () => pool.invoke({ ms: 5 }, 1).result),
      )
      expect(pinned.map((result) => (result as { most: number }).most)).toEqual(Array(10).fill(1))

      // Unpinned: spread over the idle containers in turn, each its own module instance.
      const spread = Array.from({ length: 6 }, () => pool.invoke({ ms: 20 }))
      expect(spread.map((invocation) => invocation.container)).toEqual([
        'overlap-1',
        'overlap-2',
        'overlap-3',
        'overlap-1',
        'overlap-2',
        'overlap-3',
      ])
      const results = (await Promise.all(spread.map((i) => i.result))) as {
        most: number
        instance: number
      }[]
      expect(new Set(results.map((result) => result.instance)).size).toBe(3)
      expect(Math.max(...results.map((result) => result.most))).toBe(1)
      expect(pool.containers.map((c) => c.invocations)).toEqual([12, 2, 2])
      expect(() => pool.invoke({ ms: 0 }, 4)).toThrow(/no container 4/)
    } finally {
      pool.close()
    }
  })
})
