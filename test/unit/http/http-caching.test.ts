import type {
  APIGatewayProxyEvent,
  APIGatewayProxyEventV2,
  LambdaFunctionURLEvent,
} from 'aws-lambda'
import { describe, expect, it } from 'vitest'
import { etagOf, httpCaching, ScacheOptionsError } from '../../../src/index.js'

const NOW = 1_763_700_000_000

/** An API Gateway HTTP API (v2) or function URL event: lower-case headers, joined by commas. */
const v2 = (method: string, headers: Record<string, string> = {}): APIGatewayProxyEventV2 =>
  ({
    version: '2.0',
    routeKey: `${method} /users/{id}`,
    rawPath: '/users/1',
    rawQueryString: '',
    headers,
    requestContext: { http: { method, path: '/users/1' } },
    isBase64Encoded: false,
  }) as unknown as APIGatewayProxyEventV2

/** A REST API (v1) event: headers as the client sent their names, and multiValueHeaders. */
const v1 = (
  method: string,
  headers: Record<string, string> = {},
  multi: Record<string, string[]> = {},
): APIGatewayProxyEvent =>
  ({
    httpMethod: method,
    path: '/users/1',
    headers,
    multiValueHeaders: multi,
  }) as unknown as APIGatewayProxyEvent

const user = { id: '1', name: 'Ada' }
const entry = { value: user, expiresAt: NOW + 30_000, trustedUntil: NOW + 10_000, now: NOW }

describe('ETag', () => {
  it('depends on the value alone: the same in any property order, different when it changes', () => {
    expect(etagOf({ name: 'Ada', id: '1' })).toBe(etagOf(user))
    expect(etagOf({ id: '1', name: 'Ada', tags: { b: 1, a: 2 } })).toBe(
      etagOf({ tags: { a: 2, b: 1 }, name: 'Ada', id: '1' }),
    )
    expect(etagOf({ id: '1', name: 'Ada Lovelace' })).not.toBe(etagOf(user))
    expect(etagOf(user, 'v2')).not.toBe(etagOf(user))
    expect(etagOf(user)).toMatch(/^"[A-Za-z0-9_-]{27}"$/)
  })
})

describe('If-None-Match', () => {
  const etag = etagOf(user)
  it.each<[string, APIGatewayProxyEventV2 | APIGatewayProxyEvent, boolean]>([
    ['the same tag (v2)', v2('GET', { 'if-none-match': etag }), true],
    [
      'the same tag, weak (CloudFront compressed it)',
      v2('GET', { 'if-none-match': `W/${etag}` }),
      true,
    ],
    ['a list holding it', v2('GET', { 'if-none-match': `"other", ${etag}` }), true],
    ['*', v2('GET', { 'if-none-match': '*' }), true],
    ['another tag', v2('GET', { 'if-none-match': '"other"' }), false],
    ['no header', v2('GET'), false],
    ['HEAD', v2('HEAD', { 'if-none-match': etag }), true],
    ['a PUT (not a conditional GET)', v2('PUT', { 'if-none-match': etag }), false],
    ['v1, header name in any case', v1('GET', { 'If-None-Match': etag }), true],
    ['v1, repeated headers', v1('GET', {}, { 'IF-NONE-MATCH': ['"a"', etag] }), true],
    ['v1, another tag', v1('GET', { 'if-none-match': '"a"' }), false],
  ])('%s', (_, request, notModified) => {
    const result = httpCaching(request, entry)
    expect(result.notModified).toBe(notModified)
    expect(result.headers.etag).toBe(etag)
  })

  it('takes function URL events (the v2 shape)', () => {
    const url: LambdaFunctionURLEvent = v2('GET', {
      'if-none-match': etag,
    }) as LambdaFunctionURLEvent
    expect(httpCaching(url, entry).notModified).toBe(true)
  })

  it('* does not match an absent value', () => {
    expect(httpCaching(v2('GET', { 'if-none-match': '*' }), { value: undefined }).notModified).toBe(
      false,
    )
  })
})

describe('Cache-Control', () => {
  const control = (options: Parameters<typeof httpCaching>[2], at: Partial<typeof entry> = {}) =>
    httpCaching(v2('GET'), { ...entry, ...at }, options).headers['cache-control']

  it('max-age is the remaining TTL, cut to the staleness bound and maxAgeMs', () => {
    // TTL 30 s left, bound 10 s: 10.
    expect(control({})).toBe('private, max-age=10')
    // TTL 4.5 s left: 4 (rounded down, so never past the TTL).
    expect(control({}, { expiresAt: NOW + 4_500 })).toBe('private, max-age=4')
    expect(control({ maxAgeMs: 2_000 })).toBe('private, max-age=2')
    // Under a second left, or no TTL known: revalidate every time.
    expect(control({}, { expiresAt: NOW + 999 })).toBe('private, no-cache')
    expect(httpCaching(v2('GET'), { value: user }).headers['cache-control']).toBe(
      'private, no-cache',
    )
  })

  it('public with s-maxage for CloudFront, and stale-while-revalidate within the bound', () => {
    expect(control({ scope: 'public', maxAgeMs: 1_000, sharedMaxAgeMs: 60_000 })).toBe(
      'public, max-age=1, s-maxage=10',
    )
    // 10 s to the bound: 4 s of max-age leaves at most 6 s to serve stale.
    expect(control({ maxAgeMs: 4_000, staleWhileRevalidateMs: 60_000 })).toBe(
      'private, max-age=4, stale-while-revalidate=6',
    )
    expect(control({ maxAgeMs: 4_000, staleWhileRevalidateMs: 3_000 })).toBe(
      'private, max-age=4, stale-while-revalidate=3',
    )
    // Nothing left after max-age: no stale-while-revalidate.
    expect(control({ staleWhileRevalidateMs: 60_000 })).toBe('private, max-age=10')
  })

  it.each<[string, unknown, string]>([
    ['an unknown option', { maxAge: 1 }, 'maxAge'],
    ['a bad scope', { scope: 'shared' }, 'scope'],
    ['a negative max-age', { maxAgeMs: -1 }, 'maxAgeMs'],
    ['s-maxage without public', { sharedMaxAgeMs: 1_000 }, 'sharedMaxAgeMs'],
  ])('rejects %s', (_, options, option) => {
    const call = () => httpCaching(v2('GET'), entry, options as never)
    expect(call).toThrow(ScacheOptionsError)
    expect(() => call()).toThrow(expect.objectContaining({ option }))
  })
})
