import { createHash } from 'node:crypto'
import { ScacheOptionsError } from '../errors.js'
import { describe, integer, isObject, onlyKnown } from '../validate.js'

/**
 * The parts of a request `httpCaching` reads: API Gateway HTTP API (v2) and Lambda function URL
 * events (`requestContext.http.method`, `headers`), and REST API (v1) events (`httpMethod`,
 * `headers`, `multiValueHeaders`). Header names in any case.
 */
export interface HttpRequest {
  readonly httpMethod?: string
  /** `{ http: { method } }` in v2 and function URL events; v1's has no `http`. */
  readonly requestContext?: unknown
  readonly headers?: Readonly<Record<string, string | undefined>> | null
  readonly multiValueHeaders?: Readonly<Record<string, readonly string[] | undefined>> | null
}

/** A value and how long it may be served: `context.cache.entry(key)`, or just `{ value }`. */
export interface HttpEntry {
  readonly value: unknown
  /** When its TTL ends, ms since the epoch. Without it: `no-cache` (revalidate every time). */
  readonly expiresAt?: number
  /** When the cache stops serving it unless a poll succeeds (the staleness bound). */
  readonly trustedUntil?: number
  /** The clock `expiresAt` is on, ms since the epoch. Default `Date.now()`. */
  readonly now?: number
}

export interface HttpCachingOptions {
  /**
   * `private`: browsers may keep the response, shared caches may not. `public`: CloudFront and
   * other shared caches too (`s-maxage`). Default `private`.
   */
  readonly scope?: 'private' | 'public'
  /** Longest `max-age`, ms. Default: the entry's remaining TTL, within the staleness bound. */
  readonly maxAgeMs?: number
  /** Longest `s-maxage` (shared caches only; `public` only), ms. Default: none sent. */
  readonly sharedMaxAgeMs?: number
  /**
   * `stale-while-revalidate`, ms: how long past `max-age` a cache may serve the response while it
   * revalidates, cut to what is left of the staleness bound. Default 0 (not sent).
   */
  readonly staleWhileRevalidateMs?: number
  /**
   * Mixed into the ETag: change it when the body made from the same value changes (a new format),
   * so that no cache keeps an old body for a strong validator. Default ''.
   */
  readonly variant?: string
}

/** What to answer: `notModified` (send 304 with `headers`), else 200 with `headers` and the body. */
export interface HttpCaching {
  readonly notModified: boolean
  /** `etag` and `cache-control`, for the 200 and the 304 alike. */
  readonly headers: { readonly etag: string; readonly 'cache-control': string }
  readonly etag: string
}

const validate = (options: HttpCachingOptions): void => {
  if (!isObject(options))
    throw new ScacheOptionsError(
      'httpCaching',
      `options must be an object (got ${describe(options)})`,
    )
  onlyKnown('', options, [
    'scope',
    'maxAgeMs',
    'sharedMaxAgeMs',
    'staleWhileRevalidateMs',
    'variant',
  ])
  if (options.scope !== undefined && options.scope !== 'private' && options.scope !== 'public')
    throw new ScacheOptionsError(
      'scope',
      `must be 'private' or 'public' (got ${describe(options.scope)})`,
    )
  for (const name of ['maxAgeMs', 'sharedMaxAgeMs', 'staleWhileRevalidateMs'] as const)
    if (options[name] !== undefined) integer(name, options[name], 0, 31_536_000_000)
  if (options.sharedMaxAgeMs !== undefined && options.scope !== 'public')
    throw new ScacheOptionsError('sharedMaxAgeMs', "is for shared caches: give scope 'public' too")
  if (options.variant !== undefined && typeof options.variant !== 'string')
    throw new ScacheOptionsError('variant', 'must be a string')
}

/**
 * JSON with object keys sorted: the same value serializes to the same text in every container,
 * whatever order its properties were built in (a DynamoDB item, a spread).
 */
const canonical = (value: unknown): string =>
  JSON.stringify(value, (_key, inner: unknown) =>
    isObject(inner) && !(inner instanceof Date)
      ? Object.fromEntries(
          Object.keys(inner)
            .sort()
            .map((key) => [key, inner[key]]),
        )
      : inner,
  ) ?? 'undefined'

/**
 * A strong ETag for `value`: a hash of its canonical JSON (and `variant`). It depends on the value
 * alone, so every container, and every cold start, gives the same value the same tag.
 */
export const etagOf = (value: unknown, variant = ''): string =>
  `"${createHash('sha256').update(variant).update('\0').update(canonical(value)).digest('base64url').slice(0, 27)}"`

/** A header's value in any case of its name; repeated headers joined as HTTP joins them. */
const header = (request: HttpRequest, name: string): string | undefined => {
  const values: string[] = []
  for (const [key, value] of Object.entries(request.multiValueHeaders ?? {}))
    if (key.toLowerCase() === name && value !== undefined) values.push(...value)
  if (values.length === 0)
    for (const [key, value] of Object.entries(request.headers ?? {}))
      if (key.toLowerCase() === name && value !== undefined) values.push(value)
  return values.length === 0 ? undefined : values.join(',')
}

/** The opaque part of each entity tag in an If-None-Match list, or '*'. */
const tagsIn = (list: string): string[] | '*' => {
  if (list.trim() === '*') return '*'
  // entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE; etagc excludes DQUOTE, so a tag has no comma.
  return [...list.matchAll(/(?:W\/)?("[^"]*")/g)].map((match) => match[1] as string)
}

/**
 * Conditional GET and freshness headers for a cached value (RFC 9110 §13.1.2, RFC 9111 §5.2):
 * `If-None-Match` by weak comparison (CloudFront weakens an ETag it compresses; `W/"x"` still
 * matches `"x"`), `*` and lists; `notModified` only for GET and HEAD. `max-age` is the entry's
 * remaining TTL, never past the staleness bound (`trustedUntil`) nor `maxAgeMs`; under a second
 * left, `no-cache`. Invalidations reach HTTP caches only when their copy expires: `maxAgeMs`
 * bounds how long that is.
 */
export const httpCaching = (
  request: HttpRequest,
  entry: HttpEntry,
  options: HttpCachingOptions = {},
): HttpCaching => {
  validate(options)
  const etag = etagOf(entry.value, options.variant)
  const now = entry.now ?? Date.now()
  const boundMs =
    Math.min(entry.trustedUntil ?? Number.POSITIVE_INFINITY, entry.expiresAt ?? now) - now
  const seconds = (ms: number): number => Math.max(0, Math.floor(ms / 1_000))
  const maxAge = seconds(Math.min(boundMs, options.maxAgeMs ?? Number.POSITIVE_INFINITY))
  const scope = options.scope ?? 'private'
  const directives = maxAge === 0 ? [scope, 'no-cache'] : [scope, `max-age=${maxAge}`]
  let longest = maxAge
  if (maxAge > 0 && options.sharedMaxAgeMs !== undefined) {
    const shared = seconds(Math.min(boundMs, options.sharedMaxAgeMs))
    directives.push(`s-maxage=${shared}`)
    longest = Math.max(longest, shared)
  }
  if (maxAge > 0 && (options.staleWhileRevalidateMs ?? 0) > 0) {
    // What is left of the staleness bound after the freshness: a stale copy must not outlive it.
    const untilBound = (entry.trustedUntil ?? now) - now - longest * 1_000
    const swr = seconds(Math.min(untilBound, options.staleWhileRevalidateMs ?? 0))
    if (swr > 0) directives.push(`stale-while-revalidate=${swr}`)
  }
  const context = request.requestContext
  const http = isObject(context) && isObject(context.http) ? context.http.method : undefined
  const method = String(http ?? request.httpMethod ?? '').toUpperCase()
  const condition = header(request, 'if-none-match')
  const tags = condition === undefined ? [] : tagsIn(condition)
  // `*` matches any current representation: there is one unless the value is absent.
  const matches = tags === '*' ? entry.value !== undefined : tags.includes(etag)
  return {
    notModified: matches && (method === 'GET' || method === 'HEAD'),
    headers: { etag, 'cache-control': directives.join(', ') },
    etag,
  }
}
