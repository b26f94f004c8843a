import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http'
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https'
import type {
  _Record,
  DescribeStreamSummaryInput,
  DescribeStreamSummaryOutput,
  GetRecordsInput,
  GetRecordsOutput,
  GetShardIteratorInput,
  GetShardIteratorOutput,
  KinesisClient,
  ListShardsInput,
  ListShardsOutput,
} from '@aws-sdk/client-kinesis'
import { kinesisSdk, type ReadClient } from './read-client.js'

/**
 * GetRecords returns at most 10 MiB of record data, base64 in JSON (4/3 of it), plus the
 * records' other fields: a larger answer is not Kinesis', and is not read into memory.
 */
export const MAX_RESPONSE_BYTES = 16 << 20
const TARGET_PREFIX = 'Kinesis_20131202.'
/** Marks an output the SDK decoded already (a first call): returned as it is. */
const FROM_SDK = Symbol('fromSdk')
const decoded = <T>(body: Record<string | symbol, unknown>): T | undefined => {
  if (body[FROM_SDK] !== true) return undefined
  const { [FROM_SDK]: _, ...output } = body
  return output as T
}
const CONTENT_TYPE = 'application/x-amz-json-1.1'

export interface LeanReadClientOptions {
  /** TCP (and TLS) connect timeout, ms. Default 1,000, as the default SDK client. */
  readonly connectionTimeoutMs?: number
  /** Longest wait for the server with the socket idle, ms. Default 2,000, as the default client. */
  readonly requestTimeoutMs?: number
}

/** What the lean path takes from a client's resolved configuration. */
interface ClientConfig {
  readonly signer: (authScheme?: unknown) => Promise<Signer>
  readonly endpointProvider: (params: Record<string, unknown>, context?: object) => EndpointV2
  readonly systemClockOffset?: number
}
interface Signer {
  sign(request: SignableRequest, options: { signingDate: Date }): Promise<SignableRequest>
}
interface SignableRequest {
  method: string
  protocol: string
  hostname: string
  port?: number
  path: string
  query: Record<string, string>
  headers: Record<string, string>
  body: string
}
interface EndpointV2 {
  readonly url: URL
  readonly headers?: Record<string, string[]>
  readonly properties?: { readonly authSchemes?: readonly unknown[] }
}
type Operation = 'GetRecords' | 'GetShardIterator' | 'ListShards' | 'DescribeStreamSummary'
interface Route {
  readonly url: URL
  readonly headers: Record<string, string>
  readonly signer: Signer
}
/** A Kinesis error as the SDK reports one: its name, HTTP status and fault. */
export class KinesisReadError extends Error {
  readonly $metadata: { readonly httpStatusCode: number; readonly requestId?: string }
  readonly $fault: 'client' | 'server'
  constructor(name: string, message: string, httpStatusCode: number, requestId?: string) {
    super(message)
    this.name = name
    this.$metadata = requestId === undefined ? { httpStatusCode } : { httpStatusCode, requestId }
    this.$fault = httpStatusCode < 500 ? 'client' : 'server'
  }
}

/** An error with the name the SDK's handler gives the same failure (`TimeoutError`, …). */
const named = (name: string, message: string): Error => {
  const error = new Error(message)
  error.name = name
  return error
}

/** The JSON protocol's error code: `__type`, `code`, or the `x-amzn-errortype` header, bare. */
const errorCode = (body: unknown, header: string | string[] | undefined): string => {
  const data = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>
  const raw =
    typeof data.__type === 'string'
      ? data.__type
      : typeof data.code === 'string'
        ? data.code
        : typeof header === 'string'
          ? header
          : undefined
  if (raw === undefined) return 'Unknown'
  let code = raw.split(',')[0] ?? raw
  code = code.split(':')[0] ?? code
  return code.includes('#') ? (code.split('#')[1] ?? code) : code
}

const epochMs = (value: unknown): Date | undefined =>
  typeof value === 'number' && Number.isFinite(value)
    ? new Date(Math.round(value * 1000))
    : undefined

/** A base64 string as bytes, as the SDK decodes a blob. */
const bytesOf = (value: unknown): Uint8Array => {
  if (typeof value !== 'string') return new Uint8Array()
  const buffer = Buffer.from(value, 'base64')
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength)
}

const recordsOf = (value: unknown): _Record[] | undefined => {
  if (!Array.isArray(value)) return undefined
  return value.map((raw: Record<string, unknown>) => {
    const record: _Record = {
      SequenceNumber: raw.SequenceNumber as string,
      Data: bytesOf(raw.Data),
      PartitionKey: raw.PartitionKey as string,
    }
    const arrived = epochMs(raw.ApproximateArrivalTimestamp)
    if (arrived !== undefined) record.ApproximateArrivalTimestamp = arrived
    if (typeof raw.EncryptionType === 'string')
      record.EncryptionType = raw.EncryptionType as _Record['EncryptionType']
    return record
  })
}

/**
 * The reader's four calls in Kinesis' JSON 1.1 protocol, signed with the client's own SigV4
 * signer (its credential chain, region and signing name) and sent to the endpoint its
 * configuration resolves, over a keep-alive agent: the SDK's per-call middleware, schema serde
 * and handler are what a poll's client CPU was spent on. Errors carry the SDK's names,
 * `$metadata.httpStatusCode` and `$fault`; an abort rejects with `AbortError`, a silent server
 * with `TimeoutError`, a reset connection with the socket's error (`ECONNRESET`). Not used for
 * a client with middleware of its user's: that is the `'sdk'` read path.
 */
export class LeanReadClient implements ReadClient {
  readonly #client: KinesisClient
  readonly #config: ClientConfig
  readonly #connectionTimeoutMs: number
  readonly #requestTimeoutMs: number
  readonly #httpAgent = new HttpAgent({ keepAlive: true, maxSockets: 50 })
  readonly #httpsAgent = new HttpsAgent({ keepAlive: true, maxSockets: 50 })
  /** Routes by operation and stream, as the SDK resolved them for the first such call. */
  readonly #routes = new Map<string, Promise<Route>>()

  constructor(client: KinesisClient, options: LeanReadClientOptions = {}) {
    this.#client = client
    this.#config = client.config as unknown as ClientConfig
    this.#connectionTimeoutMs = options.connectionTimeoutMs ?? 1_000
    this.#requestTimeoutMs = options.requestTimeoutMs ?? 2_000
  }

  async getRecords(
    input: GetRecordsInput,
    signal: AbortSignal | undefined,
  ): Promise<Partial<GetRecordsOutput>> {
    const body = await this.#call('GetRecords', input, signal)
    const sdk = decoded<Partial<GetRecordsOutput>>(body)
    if (sdk !== undefined) return sdk
    const output: Partial<GetRecordsOutput> = {}
    const records = recordsOf(body.Records)
    if (records !== undefined) output.Records = records
    if (typeof body.NextShardIterator === 'string')
      output.NextShardIterator = body.NextShardIterator
    if (typeof body.MillisBehindLatest === 'number')
      output.MillisBehindLatest = body.MillisBehindLatest
    if (Array.isArray(body.ChildShards))
      output.ChildShards = body.ChildShards as GetRecordsOutput['ChildShards']
    return output
  }

  async getShardIterator(
    input: GetShardIteratorInput,
    signal: AbortSignal | undefined,
  ): Promise<GetShardIteratorOutput> {
    // Timestamps travel as epoch seconds in this protocol.
    const wire =
      input.Timestamp === undefined
        ? input
        : { ...input, Timestamp: input.Timestamp.getTime() / 1000 }
    const body = await this.#call('GetShardIterator', wire, signal, input)
    const sdk = decoded<GetShardIteratorOutput>(body)
    if (sdk !== undefined) return sdk
    return typeof body.ShardIterator === 'string' ? { ShardIterator: body.ShardIterator } : {}
  }

  async listShards(
    input: ListShardsInput,
    signal: AbortSignal | undefined,
  ): Promise<ListShardsOutput> {
    const body = await this.#call('ListShards', input, signal)
    const sdk = decoded<ListShardsOutput>(body)
    if (sdk !== undefined) return sdk
    return {
      ...(Array.isArray(body.Shards) ? { Shards: body.Shards as ListShardsOutput['Shards'] } : {}),
      ...(typeof body.NextToken === 'string' ? { NextToken: body.NextToken } : {}),
    }
  }

  async describeStreamSummary(
    input: DescribeStreamSummaryInput,
    signal: AbortSignal | undefined,
  ): Promise<Partial<DescribeStreamSummaryOutput>> {
    const body = await this.#call('DescribeStreamSummary', input, signal)
    const sdk = decoded<Partial<DescribeStreamSummaryOutput>>(body)
    if (sdk !== undefined) return sdk
    const summary = body.StreamDescriptionSummary as Record<string, unknown> | undefined
    if (typeof summary !== 'object' || summary === null) return {}
    const created = epochMs(summary.StreamCreationTimestamp)
    return {
      StreamDescriptionSummary: {
        ...summary,
        ...(created === undefined ? {} : { StreamCreationTimestamp: created }),
      } as DescribeStreamSummaryOutput['StreamDescriptionSummary'],
    }
  }

  /** Closes the kept-alive connections. */
  destroy(): void {
    this.#httpAgent.destroy()
    this.#httpsAgent.destroy()
  }

  /**
   * The first call of each kind (per stream) goes through the SDK, which resolves its endpoint
   * as it always does (the endpoint rules, \`endpoint\`, \`AWS_ENDPOINT_URL_KINESIS\`, the shared
   * config file): the endpoint and auth scheme it chose are kept, and later calls sent here.
   */
  async #viaSdk(
    operation: Operation,
    key: string,
    input: object,
    signal: AbortSignal | undefined,
  ): Promise<Record<string | symbol, unknown>> {
    const sdk = await kinesisSdk()
    const Command = sdk[`${operation}Command`] as unknown as new (
      input: object,
    ) => { middlewareStack: KinesisClient['middlewareStack'] }
    const command = new Command(input)
    command.middlewareStack.add(
      (next, context) => async (args) => {
        const endpoint = (context as { endpointV2?: EndpointV2 }).endpointV2
        if (endpoint !== undefined && !this.#routes.has(key)) {
          const headers: Record<string, string> = {}
          for (const [name, values] of Object.entries(endpoint.headers ?? {}))
            headers[name.toLowerCase()] = values.join(',')
          const route = this.#config
            .signer(endpoint.properties?.authSchemes?.[0])
            .then((signer) => ({ url: endpoint.url, headers, signer }))
          // A signer that cannot be made is resolved again, through the SDK, by the next call.
          route.catch(() => this.#routes.delete(key))
          this.#routes.set(key, route)
        }
        return next(args)
      },
      { step: 'build', name: 'scacheLeanReadRoute' },
    )
    const output: object = await this.#client.send(command as never, { abortSignal: signal })
    const { $metadata: _, ...rest } = output as { $metadata?: unknown }
    return { [FROM_SDK]: true, ...rest }
  }

  async #call(
    operation: Operation,
    wire: object,
    signal: AbortSignal | undefined,
    input: object = wire,
  ): Promise<Record<string | symbol, unknown>> {
    signal?.throwIfAborted()
    const fields = input as Record<string, unknown>
    const key = `${operation} ${String(fields.StreamARN ?? '')} ${String(fields.StreamId ?? '')}`
    const known = this.#routes.get(key)
    if (known === undefined) return this.#viaSdk(operation, key, input, signal)
    const route = await known
    const { url } = route
    const body = JSON.stringify(wire)
    const request: SignableRequest = {
      method: 'POST',
      protocol: url.protocol,
      hostname: url.hostname,
      ...(url.port === '' ? {} : { port: Number(url.port) }),
      path: url.pathname === '' ? '/' : url.pathname,
      query: {},
      headers: {
        ...route.headers,
        host: url.host,
        'content-type': CONTENT_TYPE,
        'content-length': String(Buffer.byteLength(body)),
        'x-amz-target': `${TARGET_PREFIX}${operation}`,
      },
      body,
    }
    const signed = await route.signer.sign(request, {
      signingDate: new Date(Date.now() + (this.#config.systemClockOffset ?? 0)),
    })
    signal?.throwIfAborted()
    const { status, text, headers } = await this.#send(signed, signal)
    let parsed: unknown
    try {
      parsed = text === '' ? {} : JSON.parse(text)
    } catch {
      parsed = undefined
    }
    const requestId = headers['x-amzn-requestid']
    const id = typeof requestId === 'string' ? requestId : undefined
    if (status >= 200 && status < 300) {
      if (typeof parsed !== 'object' || parsed === null)
        throw new KinesisReadError('SerializationError', 'response is not JSON', status, id)
      return parsed as Record<string, unknown>
    }
    const data = (parsed ?? {}) as { message?: unknown; Message?: unknown }
    const message = data.message ?? data.Message
    throw new KinesisReadError(
      errorCode(parsed, headers['x-amzn-errortype']),
      typeof message === 'string' ? message : 'UnknownError',
      status,
      id,
    )
  }

  #send(
    signed: SignableRequest,
    signal: AbortSignal | undefined,
  ): Promise<{ status: number; text: string; headers: IncomingMessage['headers'] }> {
    const https = signed.protocol === 'https:'
    return new Promise((resolve, reject) => {
      let settled = false
      let connectTimer: NodeJS.Timeout | undefined
      const finish = (error: Error | undefined, value?: Parameters<typeof resolve>[0]) => {
        if (settled) return
        settled = true
        clearTimeout(connectTimer)
        signal?.removeEventListener('abort', onAbort)
        if (error !== undefined) {
          request.destroy()
          reject(error)
        } else if (value !== undefined) resolve(value)
      }
      const onAbort = () => {
        const reason: unknown = signal?.reason
        const error = named('AbortError', 'The operation was aborted')
        if (reason !== undefined) Object.assign(error, { cause: reason })
        finish(error)
      }
      const options = {
        method: signed.method,
        hostname: signed.hostname,
        ...(signed.port === undefined ? {} : { port: signed.port }),
        path: signed.path,
        headers: signed.headers,
        agent: https ? this.#httpsAgent : this.#httpAgent,
      }
      const request = (https ? httpsRequest : httpRequest)(options, (response) => {
        const chunks: Buffer[] = []
        let bytes = 0
        const declared = Number(response.headers['content-length'])
        if (declared > MAX_RESPONSE_BYTES) {
          finish(named('ResponseTooLarge', `response of ${declared} bytes`))
          return
        }
        response.on('data', (chunk: Buffer) => {
          bytes += chunk.length
          if (bytes > MAX_RESPONSE_BYTES)
            finish(named('ResponseTooLarge', `response over ${MAX_RESPONSE_BYTES} bytes`))
          else chunks.push(chunk)
        })
        response.on('error', (error) => finish(error))
        response.on('end', () =>
          finish(undefined, {
            status: response.statusCode ?? 0,
            text: Buffer.concat(chunks).toString('utf8'),
            headers: response.headers,
          }),
        )
      })
      request.on('error', (error) => finish(error))
      request.on('socket', (socket) => {
        // A reused socket is already connected; a new one gets the connect deadline.
        if (socket.connecting) {
          connectTimer = setTimeout(
            () =>
              finish(
                named(
                  'TimeoutError',
                  `connection not established within ${this.#connectionTimeoutMs} ms`,
                ),
              ),
            this.#connectionTimeoutMs,
          )
          socket.once(https ? 'secureConnect' : 'connect', () => clearTimeout(connectTimer))
        }
      })
      request.setTimeout(this.#requestTimeoutMs, () =>
        finish(named('TimeoutError', `no response within ${this.#requestTimeoutMs} ms`)),
      )
      if (signal !== undefined) {
        if (signal.aborted) {
          onAbort()
          return
        }
        signal.addEventListener('abort', onAbort, { once: true })
      }
      request.end(signed.body)
    })
  }
}
