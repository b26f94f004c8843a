/**
 * `npm run demo`: the quick-start handler (examples/quickstart) in three simulated warm Lambda
 * containers, each its own module scope serving one request at a time, against a Kinesis API
 * running in this process. Reads fill each container's cache, a write through one container
 * invalidates, and the others evict the key on their next poll. Prints each invocation's log
 * line and a summary, and exits non-zero if any container served a value older than the bound.
 */
import type { APIGatewayProxyEventV2, APIGatewayProxyResultV2, Context, Handler } from 'aws-lambda'
import { putUser } from '../../examples/quickstart/users.js'
import type { InvocationLog } from '../../src/index.js'
import { startLocalKinesis } from './kinesis.js'

const CONTAINERS = 3
const STREAM = 'scache-invalidations'
const POLL_INTERVAL_MS = 1_000 // as configured in examples/quickstart/handler.ts
const BOUND_MS = POLL_INTERVAL_MS + 1_000 // interval + poll budget

interface Container {
  readonly name: string
  readonly handler: Handler<APIGatewayProxyEventV2, APIGatewayProxyResultV2>
  readonly logs: InvocationLog[]
}

const event = (method: 'GET' | 'PUT', id: string, body?: unknown): APIGatewayProxyEventV2 =>
  ({
    version: '2.0',
    routeKey: `${method} /users/{id}`,
    rawPath: `/users/${id}`,
    rawQueryString: '',
    headers: { 'content-type': 'application/json' },
    pathParameters: { id },
    requestContext: { http: { method, path: `/users/${id}` } },
    isBase64Encoded: false,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  }) as unknown as APIGatewayProxyEventV2

let requestCount = 0
const context = (functionName: string): Context => {
  const deadline = Date.now() + 10_000
  return {
    awsRequestId: `demo-${++requestCount}`,
    functionName,
    getRemainingTimeInMillis: () => deadline - Date.now(),
  } as Context
}

/** Invokes a container, capturing the log line scache writes to stdout. */
const invoke = async (container: Container, request: APIGatewayProxyEventV2) => {
  const write = process.stdout.write.bind(process.stdout)
  let captured = ''
  process.stdout.write = ((chunk: string | Uint8Array) => {
    captured += String(chunk)
    return true
  }) as typeof process.stdout.write
  try {
    return (await container.handler(request, context(container.name), () => {})) as Exclude<
      APIGatewayProxyResultV2,
      string
    >
  } finally {
    process.stdout.write = write
    for (const line of captured.split('\n').filter(Boolean)) {
      const log = JSON.parse(line) as InvocationLog
      container.logs.push(log)
      console.log(
        `  ${container.name}  ${request.requestContext.http.method} ${request.rawPath.padEnd(9)} ` +
          `hits ${log.hits} misses ${log.misses} evicted ${log.evicted} records ${log.records} ` +
          `stream ${log.streamMs.toFixed(1)} ms saved ${log.savedMs.toFixed(1)} ms${log.pollSkipped ? ' (poll skipped: cache empty)' : ''}`,
      )
    }
  }
}

const nameOf = (response: { body?: string }) =>
  response.body === undefined ? undefined : (JSON.parse(response.body) as { name: string }).name

const main = async (): Promise<number> => {
  // The SDK warns on Node 20 that its 2027 releases will need Node 22: not news in a demo.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true'
  const kinesis = await startLocalKinesis()
  await kinesis.createStream(STREAM, 2)
  // What Lambda and the SAM template provide: where the stream is, region and credentials.
  Object.assign(process.env, {
    SCACHE_STREAM_NAME: STREAM,
    AWS_ENDPOINT_URL_KINESIS: kinesis.config.endpoint,
    AWS_REGION: kinesis.config.region,
    AWS_ACCESS_KEY_ID: kinesis.config.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: kinesis.config.credentials.secretAccessKey,
  })
  console.log(
    `Kinesis API (kinesalite) on ${kinesis.config.endpoint}, stream ${STREAM} with 2 shards\n`,
  )

  const containers: Container[] = []
  for (let i = 1; i <= CONTAINERS; i++) {
    // A distinct URL is a distinct module instance: each container gets its own cache.
    const module = (await import(`../../examples/quickstart/handler.ts?container=${i}`)) as {
      handler: Container['handler']
    }
    containers.push({ name: `container-${i}`, handler: module.handler, logs: [] })
  }
  const users = ['1', '2', '3']
  for (const id of users) await putUser({ id, name: `user ${id}` })

  console.log('Reads: every container loads each user once, then serves it from cache')
  for (let round = 0; round < 3; round++) {
    for (const container of containers) {
      for (const id of users) await invoke(container, event('GET', id))
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS / 2))
  }

  const [writer, ...readers] = containers as [Container, ...Container[]]
  console.log(`\nWrite: PUT /users/1 through ${writer.name}, which evicts and publishes`)
  const writeStarted = Date.now()
  await invoke(writer, event('PUT', '1', { name: 'Ada Lovelace' }))
  const acknowledged = Date.now()

  console.log('\nReads after the write: each other container evicts users:1 on its next poll')
  const propagation = new Map<string, number>()
  let stale = false
  while (propagation.size < readers.length) {
    for (const container of readers) {
      if (propagation.has(container.name)) continue
      const name = nameOf(await invoke(container, event('GET', '1')))
      if (name === 'Ada Lovelace') propagation.set(container.name, Date.now() - acknowledged)
      else if (Date.now() - acknowledged > BOUND_MS) stale = true
    }
    if (stale) break
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  const own = nameOf(await invoke(writer, event('GET', '1')))

  console.log('\nSummary')
  const rows = containers.map((container) => {
    const sum = (field: 'hits' | 'misses' | 'evicted' | 'records' | 'streamMs' | 'savedMs') =>
      container.logs.reduce((total, log) => total + log[field], 0)
    const reads = sum('hits') + sum('misses')
    return {
      container: container.name,
      requests: container.logs.length,
      'hit ratio': reads === 0 ? '-' : `${((100 * sum('hits')) / reads).toFixed(0)}%`,
      'stream ms': Number(sum('streamMs').toFixed(1)),
      'saved ms': Number(sum('savedMs').toFixed(1)),
      evicted: sum('evicted'),
      records: sum('records'),
      'invalidation seen after ms':
        propagation.get(container.name) ?? (container === writer ? 0 : '-'),
    }
  })
  console.table(rows)
  console.log(
    `Write acknowledged by Kinesis in ${acknowledged - writeStarted} ms; ` +
      `seen by every container within ${Math.max(...propagation.values())} ms (bound: ${BOUND_MS} ms).`,
  )
  await kinesis.close()
  if (stale || own !== 'Ada Lovelace') {
    console.error('FAILED: a container served a value older than the staleness bound')
    return 1
  }
  return 0
}

process.exitCode = await main()
