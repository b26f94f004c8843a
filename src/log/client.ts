import { Agent } from 'node:https'
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb'
import { NodeHttpHandler } from '@smithy/node-http-handler'

type Sdk = typeof import('@aws-sdk/client-dynamodb')
let sdk: Promise<Sdk> | undefined

/**
 * `@aws-sdk/client-dynamodb`, loaded on first use: it is an optional peer dependency, needed only
 * in log mode, so that a container reading the stream never loads (or needs) it.
 */
export const dynamoDb = (): Promise<Sdk> => {
  sdk ??= import('@aws-sdk/client-dynamodb')
  return sdk
}

/** What scache needs of a DynamoDB client: `send`. A `DynamoDBClient` fits. */
export type LogClient = Pick<DynamoDBClient, 'send'>

/**
 * The DynamoDB client scache builds for the log when none is supplied: keep-alive HTTP/1.1 and
 * tight timeouts, as for Kinesis, and one SDK attempt (the callers have their own budget and
 * retries). Region, credentials and endpoint (`AWS_ENDPOINT_URL_DYNAMODB`) come from the
 * environment.
 */
export const createLogClient = async (): Promise<LogClient> => {
  const { DynamoDBClient } = await dynamoDb()
  return new DynamoDBClient({
    maxAttempts: 1,
    requestHandler: new NodeHttpHandler({
      httpsAgent: new Agent({ keepAlive: true, maxSockets: 50 }),
      connectionTimeout: 1_000,
      requestTimeout: 2_000,
      throwOnRequestTimeout: true,
    }),
  })
}

/** A client given, or the default one, created once on first use. */
export const lazyClient = (given: LogClient | undefined): (() => Promise<LogClient>) => {
  let client: Promise<LogClient> | undefined =
    given === undefined ? undefined : Promise.resolve(given)
  return () => {
    client ??= createLogClient()
    return client
  }
}
