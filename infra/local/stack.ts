import { fileURLToPath, pathToFileURL } from 'node:url'
import { DynamoDBClient } from '@aws-sdk/client-dynamodb'
import { createHeartbeat, createRelay, dynamoDbDecoder } from '../../src/index.js'
import { isIntrinsic, readTemplate } from '../template.js'
import { startLocalDynamoDb } from './dynamodb.js'
import { CONTAINER_HEADER, startFrontDoor } from './front-door.js'
import { startLocalKinesis } from './kinesis.js'
import { type FunctionLog, FunctionPool } from './lambda.js'
import { createLogTable } from './log-table.js'
import { RelayDriver } from './relay.js'

export { CONTAINER_HEADER }

/** How writes reach other containers: the `Invalidation` parameter of template.yaml. */
export type InvalidationMode = 'publisher' | 'table-stream'
/** How containers read invalidations: the `ReadMode` parameter of template.yaml. */
export type ReadMode = 'direct' | 'log'

export interface LocalStackOptions {
  readonly invalidation?: InvalidationMode
  /** `log`: a relay appends the stream to a log table, which the containers read. */
  readonly readMode?: ReadMode
  /** Warm containers of the users function. Default 3. */
  readonly containers?: number
  /** Port of the HTTP API; 0 picks a free one. Default 0. */
  readonly port?: number
  /** Shards of the invalidation stream. Default 2. */
  readonly shards?: number
  /** Parameter values over template.yaml's defaults (`PollIntervalMs`, …). */
  readonly parameters?: Readonly<Record<string, string>>
  /** Users in the table before the stack starts (not streamed: no invalidation to read). */
  readonly seed?: readonly { readonly id: string; readonly name: string }[]
  /** Each line a container writes to stdout (scache's log line among them). */
  readonly onLog?: (log: FunctionLog) => void
}

export interface LocalStack {
  /** The users API: `GET|PUT|DELETE ${url}/users/{id}`. */
  readonly url: string
  readonly invalidation: InvalidationMode
  readonly readMode: ReadMode
  readonly stream: string
  /** The log table (log mode). */
  readonly logTable?: string
  readonly table: string
  /** Endpoints of the local Kinesis and DynamoDB, for the CLI and scripts. */
  readonly kinesisEndpoint: string
  readonly dynamoDbEndpoint: string
  /** The function's environment, as template.yaml sets it (parameters at their defaults). */
  readonly environment: Readonly<Record<string, string>>
  readonly users: FunctionPool
  close(): Promise<void>
}

const STREAM = 'scache-invalidations'
const TABLE = 'users'
const LOG_TABLE = 'scache-invalidation-log'
const root = fileURLToPath(new URL('../../', import.meta.url))
let stacks = 0

/**
 * The example stack of template.yaml, in this process: the invalidation stream (kinesalite), the
 * users table (dynalite, streaming its changes in `table-stream` mode), the users function in
 * several simulated warm containers running the real handler, and the HTTP API in front of them.
 * The function gets the environment the template gives it, with the parameters' defaults.
 */
export const startLocalStack = async (options: LocalStackOptions = {}): Promise<LocalStack> => {
  const invalidation = options.invalidation ?? 'publisher'
  const readMode = options.readMode ?? 'direct'
  const template = await readTemplate(`${root}template.yaml`)
  const fn = template.Resources.UsersFunction
  if (fn?.Properties === undefined) throw new Error('template.yaml has no UsersFunction')

  // The SDK warns on Node 20 that its 2027 releases will need Node 22: not news locally.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true'
  const kinesis = await startLocalKinesis()
  const dynamodb = await startLocalDynamoDb()
  await kinesis.createStream(STREAM, options.shards ?? 2)
  await dynamodb.createTable(TABLE)
  for (const user of options.seed ?? []) await dynamodb.putItem(TABLE, user)
  if (invalidation === 'table-stream')
    dynamodb.streamChanges({ table: TABLE, stream: STREAM, kinesis })

  const parameter = (name: string): string => {
    const value = options.parameters?.[name] ?? template.Parameters[name]?.Default
    if (value === undefined) throw new Error(`template.yaml parameter ${name} has no default`)
    return String(value)
  }
  const resolve = (value: unknown): string => {
    if (!isIntrinsic(value)) return String(value)
    if (value.fn === 'Ref' && value.args === 'InvalidationStream') return STREAM
    if (value.fn === 'Ref' && value.args === 'UsersTable') return TABLE
    if (value.fn === 'Ref' && value.args === 'InvalidationLog') return LOG_TABLE
    if (value.fn === 'Ref' && typeof value.args === 'string') return parameter(value.args)
    if (value.fn === 'If' && Array.isArray(value.args)) {
      const [condition, yes, no] = value.args as [string, unknown, unknown]
      const holds =
        (condition === 'TableStream' && invalidation === 'table-stream') ||
        (condition === 'LogMode' && readMode === 'log')
      return resolve(holds ? yes : no)
    }
    throw new Error(`the local stack cannot resolve ${JSON.stringify(value)}`)
  }
  const variables = (fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables
  const environment: Record<string, string> = {}
  for (const [name, value] of Object.entries(variables)) {
    // A variable that is `!Ref AWS::NoValue` in this mode is not set at all.
    const isNoValue = (v: unknown) => isIntrinsic(v, 'Ref') && v.args === 'AWS::NoValue'
    const chosen =
      isIntrinsic(value, 'If') && Array.isArray(value.args)
        ? (value.args as unknown[])[
            (value.args[0] === 'LogMode' && readMode === 'log') ||
            (value.args[0] === 'TableStream' && invalidation === 'table-stream')
              ? 1
              : 2
          ]
        : value
    if (!isNoValue(chosen)) environment[name] = resolve(chosen)
  }

  const functionName = `users-${invalidation}`
  // What Lambda sets, plus where the local services are (the SDK reads AWS_ENDPOINT_URL_*).
  Object.assign(process.env, environment, {
    AWS_LAMBDA_FUNCTION_NAME: functionName,
    AWS_REGION: kinesis.config.region,
    AWS_ACCESS_KEY_ID: kinesis.config.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: kinesis.config.credentials.secretAccessKey,
    AWS_ENDPOINT_URL_KINESIS: kinesis.config.endpoint,
    AWS_ENDPOINT_URL_DYNAMODB: dynamodb.endpoint,
  })
  // The handler named by template.yaml, from the entry point of the same name.
  const handler = resolve(fn.Properties.Handler)
  const [file, exported] = handler.split('.') as [string, string]
  const module = pathToFileURL(`${root}examples/users-api/${file}.ts`).href
  stacks++
  const users = await FunctionPool.start({
    name: functionName,
    // Each stack its own module instances: a second stack in one process gets fresh containers.
    module: `${module}?stack=${stacks}`,
    export: exported,
    containers: options.containers ?? 3,
    timeoutMs: Number(template.Parameters.Timeout?.Default ?? 10) * 1_000,
    ...(options.onLog === undefined ? {} : { onLog: options.onLog }),
  })
  const routes = ['GET', 'PUT', 'DELETE'].map((method) => ({
    method,
    path: '/users/{id}',
    function: users,
  }))
  const frontDoor = await startFrontDoor(routes, options.port ?? 0)
  const log =
    readMode === 'log'
      ? await startLog(kinesis, dynamodb.endpoint, invalidation, parameter, options.onLog)
      : undefined

  return {
    url: frontDoor.url,
    invalidation,
    readMode,
    stream: STREAM,
    table: TABLE,
    ...(log === undefined ? {} : { logTable: LOG_TABLE }),
    kinesisEndpoint: kinesis.config.endpoint,
    dynamoDbEndpoint: dynamodb.endpoint,
    environment,
    users,
    async close() {
      await frontDoor.close()
      await log?.close()
      users.close()
      await dynamodb.close()
      await kinesis.close()
    },
  }
}

/**
 * Log mode: the log table, the relay (driven as Lambda's mapping drives it: per shard, in order,
 * retried) and the heartbeat, as template.yaml's RelayFunction and HeartbeatFunction.
 */
const startLog = async (
  kinesis: Awaited<ReturnType<typeof startLocalKinesis>>,
  endpoint: string,
  invalidation: InvalidationMode,
  parameter: (name: string) => string,
  onLog: ((log: FunctionLog) => void) | undefined,
) => {
  const client = new DynamoDBClient({
    endpoint,
    region: kinesis.config.region,
    credentials: kinesis.config.credentials,
  })
  await createLogTable(client, LOG_TABLE)
  const relay = createRelay({
    table: LOG_TABLE,
    copies: Number(parameter('LogCopies')),
    client,
    // The same decoders as the containers (relay-change-stream.ts in table-stream mode).
    decoders:
      invalidation === 'table-stream'
        ? [dynamoDbDecoder({ tables: { [TABLE]: ({ id }) => `users:${id}` } })]
        : [],
    log: (line) =>
      onLog?.({ container: 'relay', requestId: '', line: JSON.stringify(line), json: { ...line } }),
  })
  const driver = new RelayDriver({
    client: kinesis.client({ maxAttempts: 3 }),
    stream: STREAM,
    handler: relay,
  })
  const beat = createHeartbeat({ stream: STREAM, client: kinesis.client({ maxAttempts: 3 }) })
  // One beat per call (no time left to beat through a minute): the timer paces them.
  const beatOnce = () => beat({}, { getRemainingTimeInMillis: () => 0 })
  // The log has an entry before the first request, so containers can tell it is alive.
  await beatOnce()
  await driver.drain()
  driver.start(500)
  const timer = setInterval(beatOnce, Number(parameter('HeartbeatIntervalMs')))
  return {
    async close() {
      clearInterval(timer)
      await driver.stop()
      client.destroy()
    },
  }
}
