import { PassThrough, Readable } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'
import middy6 from '@middy/core'
import type { Context } from 'aws-lambda'
import middy7 from 'middy7'
import { executionModeStreamifyResponse } from 'middy7/StreamifyResponse'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type InvocationLog, scache, type WithCache } from '../../../src/index.js'
import { lambdaContext } from '../../support/containers.js'
import { useKinesis } from '../../support/kinesis.js'

/**
 * Response streaming (`streamifyResponse`): Middy runs the `after` hooks when the handler returns
 * its stream, before a byte of it is written, and the stream's producer may still read the cache.
 * scache writes the log line when the stream ends, so the line counts those reads.
 *
 * `awslambda` is the global the Lambda Node.js runtime provides to streaming functions. Here it is
 * the smallest one that runs Middy's streaming mode: `streamifyResponse` hands the function the
 * response stream as the runtime does (`(event, responseStream, context)`), and an HTTP response's
 * prelude is not encoded. Everything past it (Middy, scache, Kinesis) is real.
 */

const kinesis = useKinesis()

const runtime = {
  streamifyResponse: <T>(handler: T): T => handler,
  HttpResponseStream: { from: <T>(stream: T): T => stream },
}
beforeAll(() => {
  Object.assign(globalThis, { awslambda: runtime })
})
afterAll(() => {
  Reflect.deleteProperty(globalThis, 'awslambda')
})

type Streaming = (event: unknown, stream: PassThrough, context: Context) => Promise<void>
type Body = 'node' | 'web' | 'http'

/** What the producer saw while it streamed: whether `after` had run, and lines written so far. */
interface Seen {
  afterRan: boolean
  linesWhileStreaming: number
}

const streamingFunction = (
  major: 'Middy 6' | 'Middy 7',
  stream: string,
  body: Body,
  fail: boolean,
) => {
  const lines: InvocationLog[] = []
  const seen: Seen = { afterRan: false, linesWhileStreaming: -1 }
  const middleware = scache({
    stream: { name: stream, client: kinesis.client() },
    pollIntervalMs: 0,
    log: (line) => lines.push(line),
  })
  const handler = async (_event: unknown, context: Context & WithCache) => {
    await context.cache.getOrLoad('users:1', () => 'Ada') // before the handler returns
    // The rest is read while the response is written, after Middy's `after` hooks ran.
    async function* produce() {
      for (const key of ['users:1', 'users:2', 'users:1']) {
        await sleep(5)
        seen.afterRan = afterRan
        seen.linesWhileStreaming = lines.length
        const value = await context.cache.getOrLoad(key, () => key.toUpperCase())
        yield `${value};`
      }
      if (fail) throw new Error('stream failed')
    }
    const readable = Readable.from(produce())
    const out = body === 'web' ? (Readable.toWeb(readable) as ReadableStream<unknown>) : readable
    return body === 'http' ? { statusCode: 200, headers: {}, body: out } : out
  }
  let afterRan = false
  // Runs after scache's own `after` (Middy runs `after` hooks in reverse order of `use`).
  const marker = {
    after: () => {
      afterRan = true
    },
  }
  const wrapped = (major === 'Middy 6'
    ? middy6(handler, { streamifyResponse: true }).use(marker).use(middleware)
    : middy7(handler, { executionMode: executionModeStreamifyResponse })
        .use(marker)
        .use(middleware)) as unknown as Streaming
  const invoke = async () => {
    const response = new PassThrough()
    const chunks: string[] = []
    response.on('data', (chunk: Buffer) => chunks.push(chunk.toString()))
    const settled = await wrapped({}, response, lambdaContext()).then(
      () => undefined,
      (error: unknown) => error,
    )
    return { text: chunks.join(''), error: settled }
  }
  return { lines, seen, invoke, instance: middleware.instance }
}

describe.each(['Middy 6', 'Middy 7'] as const)('%s streamifyResponse (kinesalite)', (major) => {
  it.each(['node', 'web', 'http'] as const)(
    'a %s body: reads while streaming are served and on the line written when it ends',
    async (body) => {
      const stream = await kinesis.createStream(1)
      const fn = streamingFunction(major, stream, body, false)

      const first = await fn.invoke()
      expect(first.error).toBeUndefined()
      expect(first.text).toBe('Ada;USERS:2;Ada;')
      // `after` had run while the stream was produced, and no line was written yet.
      expect(fn.seen).toEqual({ afterRan: true, linesWhileStreaming: 0 })
      expect(fn.lines).toHaveLength(1)
      // One read before the handler returned, three while streaming.
      expect(fn.lines[0]).toMatchObject({ hits: 2, misses: 2, loads: 2, bypassed: 0 })

      const second = await fn.invoke()
      expect(second.text).toBe('Ada;USERS:2;Ada;')
      expect(fn.lines[1]).toMatchObject({ hits: 4, misses: 0 })
      expect(fn.instance.stats()).toMatchObject({ invocations: 2, hits: 6, misses: 2 })
    },
  )

  it('a stream that fails: the line is written, marked as the handler’s error', async () => {
    const stream = await kinesis.createStream(1)
    const fn = streamingFunction(major, stream, 'node', true)
    const { text, error } = await fn.invoke()
    expect(error).toMatchObject({ message: 'stream failed' })
    expect(text).toBe('Ada;USERS:2;Ada;')
    expect(fn.lines).toHaveLength(1)
    expect(fn.lines[0]).toMatchObject({ hits: 2, misses: 2, handlerError: true })
  })
})
