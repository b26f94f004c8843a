import { afterEach, describe, expect, it } from 'vitest'
import { CONTAINER_HEADER, type LocalStack, startLocalStack } from '../../../infra/local/stack.js'

let stack: LocalStack | undefined
afterEach(async () => {
  await stack?.close()
  stack = undefined
})

const TTL_MAX_MS = 60_000
const MAX_STALENESS_MS = 20_000

describe('HTTP caching of GET /users/{id} (the local stack, over HTTP)', () => {
  it('ETags agree across containers, If-None-Match gets a 304, a write changes the ETag', async () => {
    stack = await startLocalStack({
      invalidation: 'publisher',
      containers: 2,
      seed: [{ id: '1', name: 'Ada' }],
      parameters: {
        PollIntervalMs: '0',
        TtlMinMs: '30000',
        TtlMaxMs: String(TTL_MAX_MS),
        MaxStalenessMs: String(MAX_STALENESS_MS),
      },
    })
    const url = stack.url
    const call = async (
      method: string,
      container: number,
      headers: Record<string, string> = {},
      body?: string,
    ) => {
      const response = await fetch(`${url}/users/1`, {
        method,
        headers: {
          'content-type': 'application/json',
          [CONTAINER_HEADER]: String(container),
          ...headers,
        },
        ...(body === undefined ? {} : { body }),
      })
      return {
        status: response.status,
        etag: response.headers.get('etag'),
        cacheControl: response.headers.get('cache-control') ?? '',
        text: await response.text(),
      }
    }

    const first = await call('GET', 1)
    expect(first.status).toBe(200)
    expect(JSON.parse(first.text)).toEqual({ id: '1', name: 'Ada' })
    expect(first.etag).toMatch(/^"[A-Za-z0-9_-]+"$/)
    const maxAge = Number(/^private, max-age=(\d+)$/.exec(first.cacheControl)?.[1])
    // Within the entry's TTL and the staleness bound.
    expect(maxAge).toBeGreaterThan(0)
    expect(maxAge).toBeLessThanOrEqual(Math.min(TTL_MAX_MS, MAX_STALENESS_MS) / 1_000)

    // The other container loads the user itself and tags it the same.
    const other = await call('GET', 2)
    expect(other).toMatchObject({ status: 200, etag: first.etag })
    const etag = first.etag ?? ''
    for (const [container, condition] of [
      [2, etag],
      [1, `W/${etag}`],
      [2, `"stale", ${etag}`],
    ] as const) {
      const revalidated = await call('GET', container, { 'if-none-match': condition })
      expect(revalidated).toMatchObject({ status: 304, etag, text: '' })
      expect(revalidated.cacheControl).toMatch(/^private, max-age=\d+$/)
    }

    // A write through container 1: container 2 evicts, reloads, and the old ETag no longer matches.
    expect((await call('PUT', 1, {}, '{"name":"Ada Lovelace"}')).status).toBe(200)
    const changed = await call('GET', 2, { 'if-none-match': etag })
    expect(changed.status).toBe(200)
    expect(JSON.parse(changed.text)).toEqual({ id: '1', name: 'Ada Lovelace' })
    expect(changed.etag).not.toBe(etag)
    expect(await call('GET', 1, { 'if-none-match': changed.etag ?? '' })).toMatchObject({
      status: 304,
    })
  })
})
