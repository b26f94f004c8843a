import middy from '@middy/core'
import type { Context } from 'aws-lambda'
import { describe, expect, it } from 'vitest'
import {
  type InvocationLog,
  LoadRateLimitedError,
  scache,
  type WithCache,
} from '../../../src/index.js'
import { lambdaContext } from '../../support/containers.js'
import { useKinesis } from '../../support/kinesis.js'

const kinesis = useKinesis()

describe('the load rate limit through the middleware (kinesalite)', () => {
  it('bounds the loads a cold container starts, serves stale within staleIfErrorMs, refuses the rest', async () => {
    const stream = await kinesis.createStream(1)
    const clock = { nowMs: Date.now(), now: () => clock.nowMs }
    const lines: InvocationLog[] = []
    let loaderCalls = 0
    const handler = middy(async (event: { ids: number[] }, context: Context & WithCache) =>
      Promise.all(
        event.ids.map((id) =>
          context.cache
            .getOrLoad(`users:${id}`, async () => {
              loaderCalls++
              return `user ${id}`
            })
            .catch((error: unknown) => error),
        ),
      ),
    ).use(
      scache({
        stream: { name: stream, client: kinesis.client() },
        clock: { now: clock.now },
        ttl: { minMs: 1_000, maxMs: 1_000 },
        staleIfErrorMs: 60_000,
        keyspaces: { users: { loadRate: { perSecond: 2, burst: 3 } } },
        log: (line) => lines.push(line),
      }),
    )
    const invoke = (ids: number[]) =>
      handler({ ids }, lambdaContext() as Context & WithCache) as Promise<unknown[]>

    // A cold burst of 5 distinct keys, and key 1 asked twice: one load for it (joined, no token).
    const first = await invoke([1, 1, 2, 3, 4, 5])
    expect(first.slice(0, 4)).toEqual(['user 1', 'user 1', 'user 2', 'user 3'])
    for (const refused of first.slice(4)) {
      expect(refused).toBeInstanceOf(LoadRateLimitedError)
      expect(refused).toMatchObject({ keyspace: 'users' })
      expect((refused as LoadRateLimitedError).retryInMs).toBeGreaterThan(0)
    }
    expect(loaderCalls).toBe(3)
    expect(lines.at(-1)).toMatchObject({ loads: 3, loadRateLimited: 2 })

    // 1.5 s later: the entries expired, three tokens came back (capped at the burst).
    clock.nowMs += 1_500
    const second = await invoke([4, 5, 6, 1])
    expect(second.slice(0, 3)).toEqual(['user 4', 'user 5', 'user 6'])
    // Over the limit again, key 1 is served its expired value (stale-if-error).
    expect(second[3]).toBe('user 1')
    expect(loaderCalls).toBe(6)
    expect(lines.at(-1)).toMatchObject({ loads: 3, loadRateLimited: 1, staleIfError: 1 })
  })
})
