/**
 * `npm start`: the example stack of template.yaml on a local port, until Ctrl-C. Kinesis and
 * DynamoDB run in this process; the users function runs in several simulated warm containers
 * behind an HTTP API. Each invocation's scache log line is printed with its container.
 */
import { parseArgs } from 'node:util'
import { type InvalidationMode, type ReadMode, startLocalStack } from './stack.js'

const usage = `Usage: npm start -- [--invalidation publisher|table-stream] [--read-mode direct|log] [--port 3000] [--containers 3]`

const main = async (): Promise<number> => {
  let values: {
    invalidation?: string
    'read-mode'?: string
    port?: string
    containers?: string
    help?: boolean
  }
  try {
    ;({ values } = parseArgs({
      options: {
        invalidation: { type: 'string', default: 'publisher' },
        'read-mode': { type: 'string', default: 'direct' },
        port: { type: 'string', default: process.env.PORT ?? '3000' },
        containers: { type: 'string', default: '3' },
        help: { type: 'boolean', short: 'h' },
      },
    }))
  } catch (error) {
    console.error(`${(error as Error).message}\n${usage}`)
    return 2
  }
  if (values.help === true) {
    console.log(usage)
    return 0
  }
  const port = Number(values.port)
  const containers = Number(values.containers)
  if (values.invalidation !== 'publisher' && values.invalidation !== 'table-stream') {
    console.error(`--invalidation must be publisher or table-stream\n${usage}`)
    return 2
  }
  const readMode = values['read-mode']
  if (readMode !== 'direct' && readMode !== 'log') {
    console.error(`--read-mode must be direct or log\n${usage}`)
    return 2
  }
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    console.error(`--port must be a port number\n${usage}`)
    return 2
  }
  if (!Number.isInteger(containers) || containers < 1 || containers > 64) {
    console.error(`--containers must be from 1 to 64\n${usage}`)
    return 2
  }

  const stack = await startLocalStack({
    invalidation: values.invalidation as InvalidationMode,
    readMode: readMode as ReadMode,
    port,
    containers,
    seed: [
      { id: '1', name: 'Ada' },
      { id: '2', name: 'Grace' },
    ],
    onLog: ({ container, line, json }) => {
      // The EMF block (`_aws`) is for CloudWatch; the rest is the line as the function wrote it.
      const { _aws, ...shown } = json ?? {}
      console.log(`${container.padEnd(22)} ${json === undefined ? line : JSON.stringify(shown)}`)
    },
  })
  console.log(`Users API on ${stack.url}/users/{id} (${containers} containers, invalidation: ${stack.invalidation}, read mode: ${stack.readMode})

  curl ${stack.url}/users/1
  curl -X PUT ${stack.url}/users/1 -H 'content-type: application/json' -d '{"name":"Ada Lovelace"}'
  curl -X DELETE ${stack.url}/users/2

Stream ${stack.stream} on ${stack.kinesisEndpoint}; table ${stack.table} on ${stack.dynamoDbEndpoint}.${stack.logTable === undefined ? '' : `\nLog table ${stack.logTable} on ${stack.dynamoDbEndpoint}, filled by the relay.`}
Requests go to the containers in turn; header x-scache-container: N pins one. Ctrl-C stops.
`)
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve)
    process.once('SIGTERM', resolve)
  })
  await stack.close()
  return 0
}

process.exitCode = await main()
