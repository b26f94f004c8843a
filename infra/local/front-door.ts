import { randomUUID } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { buffer } from 'node:stream/consumers'
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda'
import type { FunctionPool } from './lambda.js'

/** A route of the HTTP API: `GET /users/{id}`. */
export interface Route {
  readonly method: string
  readonly path: string
  readonly function: FunctionPool
}

export interface FrontDoor {
  readonly url: string
  close(): Promise<void>
}

/** Pins a request to one container (1-based): for demos and tests, not an API Gateway feature. */
export const CONTAINER_HEADER = 'x-scache-container'

const TEXT = /^(text\/|application\/(json|xml|x-www-form-urlencoded))/

const match = (template: string, path: string): Record<string, string> | undefined => {
  const want = template.split('/')
  const got = path.split('/')
  if (want.length !== got.length) return undefined
  const parameters: Record<string, string> = {}
  for (const [i, part] of want.entries()) {
    const actual = got[i] ?? ''
    if (part.startsWith('{') && part.endsWith('}')) {
      if (actual === '') return undefined
      parameters[part.slice(1, -1)] = decodeURIComponent(actual)
    } else if (part !== actual) return undefined
  }
  return parameters
}

/** The API Gateway HTTP API payload (format 2.0) for a request. */
const eventOf = (
  request: IncomingMessage,
  body: Buffer,
  route: Route,
  pathParameters: Record<string, string>,
): APIGatewayProxyEventV2 => {
  const url = new URL(request.url ?? '/', 'http://localhost')
  const headers: Record<string, string> = {}
  for (const [name, value] of Object.entries(request.headers)) {
    if (value !== undefined && name !== 'cookie')
      headers[name] = Array.isArray(value) ? value.join(',') : value
  }
  const query: Record<string, string> = {}
  for (const [name, value] of url.searchParams)
    query[name] = name in query ? `${query[name]},${value}` : value
  const text = TEXT.test(headers['content-type'] ?? '')
  const now = new Date()
  const routeKey = `${route.method} ${route.path}`
  const cookies = request.headers.cookie?.split(';').map((cookie) => cookie.trim())
  return {
    version: '2.0',
    routeKey,
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    ...(cookies === undefined ? {} : { cookies }),
    headers,
    ...(url.search === '' ? {} : { queryStringParameters: query }),
    pathParameters,
    requestContext: {
      accountId: '000000000000',
      apiId: 'local',
      domainName: headers.host ?? 'localhost',
      domainPrefix: (headers.host ?? 'localhost').split('.')[0] ?? 'localhost',
      http: {
        method: request.method ?? 'GET',
        path: url.pathname,
        protocol: `HTTP/${request.httpVersion}`,
        sourceIp: request.socket.remoteAddress ?? '127.0.0.1',
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: randomUUID(),
      routeKey,
      stage: '$default',
      time: now.toUTCString(),
      timeEpoch: now.getTime(),
    },
    isBase64Encoded: body.length > 0 && !text,
    ...(body.length === 0 ? {} : { body: text ? body.toString() : body.toString('base64') }),
  }
}

/** The HTTP response for a handler's result, as an HTTP API (format 2.0) maps it. */
const send = (response: ServerResponse, result: unknown, container: string): void => {
  const structured =
    typeof result === 'object' && result !== null && 'statusCode' in result
      ? (result as APIGatewayProxyStructuredResultV2)
      : // Anything else is the body of a 200, as JSON.
        {
          statusCode: 200,
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(result),
        }
  const body =
    structured.body === undefined
      ? undefined
      : Buffer.from(structured.body, structured.isBase64Encoded === true ? 'base64' : 'utf8')
  response.writeHead(structured.statusCode ?? 200, {
    ...structured.headers,
    ...(structured.cookies === undefined ? {} : { 'set-cookie': structured.cookies }),
    [CONTAINER_HEADER]: container,
  })
  response.end(body)
}

const json = (response: ServerResponse, status: number, message: string): void => {
  response
    .writeHead(status, { 'content-type': 'application/json' })
    .end(JSON.stringify({ message }))
}

/**
 * The local HTTP API: routes requests to functions as API Gateway does, as format 2.0 events,
 * and answers what the handler returns. The response names the container that served it.
 */
export const startFrontDoor = async (routes: readonly Route[], port = 0): Promise<FrontDoor> => {
  const server: Server = createServer((request, response) => {
    void (async () => {
      const body = await buffer(request)
      const path = new URL(request.url ?? '/', 'http://localhost').pathname
      let found: { route: Route; parameters: Record<string, string> } | undefined
      for (const route of routes) {
        const parameters = route.method === request.method ? match(route.path, path) : undefined
        if (parameters !== undefined) found = { route, parameters }
      }
      // What an HTTP API answers for a method and path no route has.
      if (found === undefined) return json(response, 404, 'Not Found')
      const pin = request.headers[CONTAINER_HEADER]
      const container = pin === undefined ? undefined : Number(pin)
      if (container !== undefined && !Number.isInteger(container))
        return json(response, 400, `${CONTAINER_HEADER} must be a container number`)
      const event = eventOf(request, body, found.route, found.parameters)
      let invocation: ReturnType<FunctionPool['invoke']>
      try {
        invocation = found.route.function.invoke(event, container)
      } catch (error) {
        return json(response, 400, String(error))
      }
      try {
        send(response, await invocation.result, invocation.container)
      } catch (error) {
        // What API Gateway answers when the function fails; the error is in the function's log.
        console.error(
          `${invocation.container}: ${error instanceof Error ? error.stack : String(error)}`,
        )
        response.writeHead(500, {
          'content-type': 'application/json',
          [CONTAINER_HEADER]: invocation.container,
        })
        response.end(JSON.stringify({ message: 'Internal Server Error' }))
      }
    })()
  })
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    async close() {
      server.closeAllConnections()
      await new Promise<void>((resolve, reject) =>
        server.close((error) => (error ? reject(error) : resolve())),
      )
    },
  }
}
