import type { KinesisClient } from '@aws-sdk/client-kinesis'
import middy from '@middy/core'
import type { Context } from 'aws-lambda'
import {
  createPublisher,
  type InvocationLog,
  type ScacheOptions,
  scache,
  type WithCache,
} from '../../src/index.js'

/** A source of truth the handlers read from, with a load delay and a count of loads. */
export class Source {
  readonly values = new Map<string, string>()
  loads = 0
  constructor(readonly delayMs = 0) {}

  async read(key: string): Promise<string | undefined> {
    this.loads++
    if (this.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.delayMs))
    return this.values.get(key)
  }
}

export interface Request {
  readonly op: 'get' | 'put'
  readonly key: string
  readonly value?: string
}

let requests = 0
export const lambdaContext = (): Context => {
  const deadline = Date.now() + 30_000
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: 'users',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:users',
    memoryLimitInMB: '512',
    awsRequestId: `request-${++requests}`,
    logGroupName: '/aws/lambda/users',
    logStreamName: 'local',
    getRemainingTimeInMillis: () => deadline - Date.now(),
    done: () => {},
    fail: () => {},
    succeed: () => {},
  }
}

/**
 * One simulated Lambda container: its own module-scope middleware instance (and so its own cache
 * and stream position), running a Middy handler that reads through the cache and, on writes,
 * updates the source and invalidates.
 */
export const container = (
  source: Source,
  stream: string,
  client: KinesisClient,
  {
    readPath,
    ...options
  }: Omit<ScacheOptions, 'stream' | 'log'> & {
    readPath?: 'sdk' | 'lean'
  } = {},
) => {
  const logs: InvocationLog[] = []
  const middleware = scache({
    pollIntervalMs: 0,
    ...options,
    stream: { name: stream, client, ...(readPath === undefined ? {} : { readPath }) },
    publisher: createPublisher({
      streamName: stream,
      client,
      // Signed as the default publisher would sign, with the first secret.
      ...(options.secret === undefined
        ? {}
        : { secret: typeof options.secret === 'string' ? options.secret : options.secret[0] }),
    }),
    log: (line) => logs.push(line),
  })
  const handler = middy(async (event: Request, context: Context & WithCache) => {
    if (event.op === 'put') {
      source.values.set(event.key, event.value ?? '')
      await context.cache.invalidate(event.key)
      return event.value
    }
    return context.cache.getOrLoad(event.key, () => source.read(event.key))
  }).use(middleware)
  return {
    logs,
    instance: middleware.instance,
    // Middy types the outer handler with the inner one's context; scache adds `cache` in `before`.
    invoke: (event: Request) => handler(event, lambdaContext() as Context & WithCache),
    lastLog: () => logs.at(-1) as InvocationLog,
  }
}
