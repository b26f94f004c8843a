import { Agent } from 'node:https'
import { KinesisClient, type KinesisClientConfig } from '@aws-sdk/client-kinesis'
import { NodeHttpHandler } from '@smithy/node-http-handler'

export interface DefaultClientOptions {
  /** SDK attempts per call. The reader uses 1: it has its own budget and backoff. */
  readonly maxAttempts: number
  /** TCP connect timeout, ms. */
  readonly connectionTimeoutMs?: number
  /** Time to wait for a response, ms. */
  readonly requestTimeoutMs?: number
}

/**
 * The Kinesis client scache builds when none is supplied. The SDK's default handler for Kinesis
 * is HTTP/2, which opens a connection per call; an HTTP/1.1 keep-alive agent reuses one TLS
 * connection across warm invocations, and tight timeouts keep a slow call from eating the request.
 * Region, credentials and endpoint (`AWS_ENDPOINT_URL_KINESIS`) come from the environment.
 */
export const createDefaultClient = (
  options: DefaultClientOptions,
  config: KinesisClientConfig = {},
): KinesisClient =>
  new KinesisClient({
    maxAttempts: options.maxAttempts,
    requestHandler: new NodeHttpHandler({
      httpsAgent: new Agent({ keepAlive: true, maxSockets: 50 }),
      connectionTimeout: options.connectionTimeoutMs ?? 1_000,
      requestTimeout: options.requestTimeoutMs ?? 2_000,
      throwOnRequestTimeout: true,
    }),
    ...config,
  })

/** `StreamName` or `StreamARN`, whichever `stream` is. */
export const streamParams = (stream: string): { StreamName: string } | { StreamARN: string } =>
  stream.startsWith('arn:') ? { StreamARN: stream } : { StreamName: stream }

// arn:partition:kinesis:region:account:stream/name (CloudFormation's GetAtt StreamArn).
const STREAM_ARN = /^arn:[a-z-]+:kinesis:([a-z0-9-]+):\d{12}:stream\/[A-Za-z0-9_.-]+$/

/** The region a stream ARN names; undefined for a stream name or anything not a stream ARN. */
export const arnRegion = (stream: string): string | undefined => STREAM_ARN.exec(stream)?.[1]
