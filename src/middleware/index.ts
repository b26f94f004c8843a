import { finished, type Readable } from 'node:stream'
import { type Invocation, type RequestCache, Scache, type ScacheOptions } from '../core/index.js'

/** Add to a handler's context type: `(event, context: Context & WithCache)`. */
export interface WithCache {
  readonly cache: RequestCache
}

/**
 * The Lambda context object, as `Context` in @types/aws-lambda declares it, declared here so that
 * neither @types/aws-lambda nor Middy is needed to compile against scache. Middy 7 requires a
 * middleware's context to extend `Context | DurableContext`; scache reads only `awsRequestId` and
 * `getRemainingTimeInMillis`.
 */
export interface LambdaContext {
  callbackWaitsForEmptyEventLoop: boolean
  functionName: string
  functionVersion: string
  invokedFunctionArn: string
  memoryLimitInMB: string
  awsRequestId: string
  logGroupName: string
  logStreamName: string
  getRemainingTimeInMillis(): number
  /** @deprecated Node.js 0.10 callback style, still on the context object. */
  done(error?: Error, result?: unknown): void
  /** @deprecated Node.js 0.10 callback style, still on the context object. */
  fail(error: Error | string): void
  /** @deprecated Node.js 0.10 callback style, still on the context object. */
  succeed(messageOrObject: unknown): void
}

/**
 * The part of a Middy request scache touches, declared here so that Middy stays an optional peer
 * dependency (the core works without it). Its context type is what Middy adds to the handler's:
 * `context.cache`.
 */
export interface MiddyLikeRequest {
  readonly event: unknown
  readonly context: LambdaContext & WithCache
  /** The handler's response, once it returned: a stream (or `{ body: stream }`) with streaming. */
  response?: unknown
}

const isObject = (value: unknown): value is { readonly code?: unknown; body?: unknown } =>
  typeof value === 'object' && value !== null

const isStream = (value: unknown): boolean =>
  isObject(value) && ('_readableState' in value || value instanceof ReadableStream)

/**
 * The body Middy streams with `streamifyResponse`, found as Middy finds it (the response, or an
 * HTTP response's `body`): a Node.js Readable, or a web ReadableStream.
 */
const streamedBody = (
  response: unknown,
): { readonly holder: { body?: unknown } | undefined; readonly body: unknown } | undefined => {
  if (isStream(response)) return { holder: undefined, body: response }
  if (isObject(response) && isStream(response.body))
    return { holder: response, body: response.body }
  return undefined
}

/**
 * A web ReadableStream that passes `source` on and calls `done` once when it ends: read to its
 * end, failed (`true`), or cancelled by the reader (a client that went away: not the handler's
 * error).
 */
const watchedWebStream = (
  source: ReadableStream<unknown>,
  done: (error: boolean) => void,
): ReadableStream<unknown> => {
  const reader = source.getReader()
  return new ReadableStream<unknown>({
    async pull(controller) {
      try {
        const next = await reader.read()
        if (next.done) {
          controller.close()
          done(false)
        } else controller.enqueue(next.value)
      } catch (error) {
        controller.error(error)
        done(true)
      }
    },
    async cancel(reason) {
      done(false)
      await reader.cancel(reason)
    },
  })
}

export interface ScacheMiddleware {
  readonly before: (request: MiddyLikeRequest) => Promise<void>
  readonly after: (request: MiddyLikeRequest) => void
  readonly onError: (request: MiddyLikeRequest) => void
  /** The container's cache behind this middleware. */
  readonly instance: Scache
}

/**
 * Middy middleware: before the handler, brings the container's cache up to date with the
 * invalidation stream and puts it on `context.cache`; after it (or on error), writes the
 * invocation's log line. Create it at module scope, so the cache outlives the invocation.
 *
 * With response streaming (`streamifyResponse`), Middy runs `after` when the handler returns its
 * stream, before the stream is written: the log line is written when the stream ends instead
 * (read to its end, failed, or cancelled), so it counts the reads made while streaming.
 *
 * Pass options (validated here, at construction) or a `Scache` you created yourself to share one
 * cache between handlers or reach it outside them.
 */
export const scache = (options: ScacheOptions | Scache = {}): ScacheMiddleware => {
  const instance = options instanceof Scache ? options : new Scache(options)
  // Per-request state, keyed by the request's context: never shared between middleware instances.
  const invocations = new WeakMap<object, Invocation>()

  const end = (request: MiddyLikeRequest, error: boolean): void => {
    const invocation = invocations.get(request.context)
    if (invocation === undefined) return
    invocations.delete(request.context)
    invocation.end({ error })
  }

  const scacheMiddlewareBefore = async (request: MiddyLikeRequest): Promise<void> => {
    const invocation = await instance.begin(request.context)
    invocations.set(request.context, invocation)
    // Set here, before the handler reads it: the one write to the otherwise readonly field.
    ;(request.context as { cache: RequestCache }).cache = invocation.cache
  }
  const scacheMiddlewareAfter = (request: MiddyLikeRequest): void => {
    const streamed = streamedBody(request.response)
    if (streamed === undefined) {
      end(request, false)
      return
    }
    let ended = false
    const once = (error: boolean) => {
      if (ended) return
      ended = true
      end(request, error)
    }
    if (streamed.body instanceof ReadableStream) {
      const watched = watchedWebStream(streamed.body, once)
      if (streamed.holder === undefined) request.response = watched
      else streamed.holder.body = watched
    } else {
      const stop = finished(streamed.body as Readable, (error) => {
        stop()
        // Closed before its end: the response stream was destroyed (the client went away).
        once(isObject(error) && error.code !== 'ERR_STREAM_PREMATURE_CLOSE')
      })
    }
  }
  const scacheMiddlewareOnError = (request: MiddyLikeRequest): void => end(request, true)

  return {
    before: scacheMiddlewareBefore,
    after: scacheMiddlewareAfter,
    onError: scacheMiddlewareOnError,
    instance,
  }
}
