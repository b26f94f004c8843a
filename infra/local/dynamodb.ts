import { randomUUID } from 'node:crypto'
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http'
import { createRequire } from 'node:module'
import type { AddressInfo } from 'node:net'
import { buffer } from 'node:stream/consumers'
import {
  type AttributeValue,
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
} from '@aws-sdk/client-dynamodb'
import { type KinesisClient, PutRecordCommand } from '@aws-sdk/client-kinesis'
import type dynaliteType from 'dynalite'
import type { LocalKinesis } from './kinesis.js'

const require = createRequire(import.meta.url)
const dynalite = require('dynalite') as typeof dynaliteType

type Item = Record<string, AttributeValue>

/** Where a table streams its changes, as `KinesisStreamSpecification` sets it on AWS. */
export interface ChangeStream {
  readonly table: string
  readonly stream: string
  readonly kinesis: LocalKinesis
}

export interface LocalDynamoDb {
  /** The endpoint functions use (`AWS_ENDPOINT_URL_DYNAMODB`). */
  readonly endpoint: string
  /** Creates a table with a string partition key `id` and waits until it is ACTIVE. */
  createTable(name: string): Promise<void>
  /** Writes an item of string attributes straight to the table, around the change stream. */
  putItem(table: string, item: Readonly<Record<string, string>>): Promise<void>
  /** Streams a table's item changes into Kinesis, as "Kinesis Data Streams for DynamoDB" does. */
  streamChanges(changes: ChangeStream): void
  /** Change records put on Kinesis so far. */
  readonly changesStreamed: number
  close(): Promise<void>
}

interface Streamed {
  readonly stream: string
  readonly client: KinesisClient
  /** The table's key attributes. */
  readonly keys: readonly string[]
}

const WRITES = new Set(['PutItem', 'UpdateItem', 'DeleteItem'])

/**
 * DynamoDB in this process: dynalite (in memory, over HTTP) behind a small proxy that adds what
 * dynalite lacks, the table's change stream into Kinesis. After each successful `PutItem`,
 * `UpdateItem` or `DeleteItem` on a streamed table, the proxy reads the item's old and new
 * images and puts the change record DynamoDB would (`eventSource: "aws:dynamodb"`, `Keys` in
 * DynamoDB JSON, millisecond `ApproximateCreationDateTime`) on the stream, partitioned by key.
 * Writes to a streamed table go through one at a time, so each record's images are exact.
 * Batch and transactional writes are forwarded but not streamed (the example does not use them).
 */
export const startLocalDynamoDb = async (): Promise<LocalDynamoDb> => {
  const backend = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 })
  await new Promise<void>((resolve) => backend.listen(0, '127.0.0.1', resolve))
  const backendPort = (backend.address() as AddressInfo).port
  const admin = new DynamoDBClient({
    endpoint: `http://127.0.0.1:${backendPort}`,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  })
  const streamed = new Map<string, Streamed>()
  let changesStreamed = 0
  let writes: Promise<unknown> = Promise.resolve()

  const forward = (request: IncomingMessage, body: Buffer) =>
    new Promise<{ status: number; headers: Record<string, string>; body: Buffer }>(
      (resolve, reject) => {
        const upstream = httpRequest(
          {
            host: '127.0.0.1',
            port: backendPort,
            method: request.method,
            path: request.url,
            headers: request.headers,
          },
          (response) => {
            buffer(response).then(
              (data) =>
                resolve({
                  status: response.statusCode ?? 500,
                  headers: Object.fromEntries(
                    Object.entries(response.headers).map(([k, v]) => [k, String(v)]),
                  ),
                  body: data,
                }),
              reject,
            )
          },
        )
        upstream.on('error', reject)
        upstream.end(body)
      },
    )

  const itemOf = async (table: string, key: Item): Promise<Item | undefined> =>
    (await admin.send(new GetItemCommand({ TableName: table, Key: key, ConsistentRead: true })))
      .Item

  /** A write to a streamed table: forwarded, then its change record put on the stream. */
  const streamedWrite = async (
    request: IncomingMessage,
    body: Buffer,
    operation: string,
    input: { TableName: string; Item?: Item; Key?: Item },
    target: Streamed,
  ) => {
    const source = operation === 'PutItem' ? input.Item : input.Key
    const key: Item = {}
    for (const name of target.keys) {
      const value = source?.[name]
      if (value !== undefined) key[name] = value
    }
    const before =
      Object.keys(key).length === target.keys.length
        ? await itemOf(input.TableName, key)
        : undefined
    const response = await forward(request, body)
    if (response.status !== 200) return response
    const after = await itemOf(input.TableName, key)
    if (before === undefined && after === undefined) return response
    const eventName = before === undefined ? 'INSERT' : after === undefined ? 'REMOVE' : 'MODIFY'
    const record = {
      awsRegion: 'us-east-1',
      eventID: randomUUID(),
      eventName,
      userIdentity: null,
      recordFormat: 'application/json',
      tableName: input.TableName,
      dynamodb: {
        ApproximateCreationDateTime: Date.now(),
        ApproximateCreationDateTimePrecision: 'MILLISECOND',
        Keys: key,
        ...(after === undefined ? {} : { NewImage: after }),
        ...(before === undefined ? {} : { OldImage: before }),
        SizeBytes: JSON.stringify({ key, after, before }).length,
      },
      eventSource: 'aws:dynamodb',
    }
    await target.client.send(
      new PutRecordCommand({
        StreamName: target.stream,
        PartitionKey: JSON.stringify(key),
        Data: Buffer.from(JSON.stringify(record)),
      }),
    )
    changesStreamed++
    return response
  }

  const proxy: Server = createServer((request, response) => {
    void (async () => {
      const body = await buffer(request)
      const operation = String(request.headers['x-amz-target'] ?? '').split('.')[1] ?? ''
      let input: { TableName?: unknown } = {}
      try {
        input = JSON.parse(body.toString() || '{}') as typeof input
      } catch {
        // Not JSON: dynalite answers it.
      }
      const target = typeof input.TableName === 'string' ? streamed.get(input.TableName) : undefined
      let result: Awaited<ReturnType<typeof forward>>
      if (target !== undefined && WRITES.has(operation)) {
        const write = writes.then(() =>
          streamedWrite(request, body, operation, input as { TableName: string }, target),
        )
        writes = write.catch(() => {})
        result = await write
      } else {
        result = await forward(request, body)
      }
      response.writeHead(result.status, result.headers).end(result.body)
    })().catch((error: unknown) => {
      response
        .writeHead(500, { 'content-type': 'application/x-amz-json-1.0' })
        .end(JSON.stringify({ __type: 'InternalFailure', message: String(error) }))
    })
  })
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve))
  const endpoint = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`

  return {
    endpoint,
    async createTable(name) {
      await admin.send(
        new CreateTableCommand({
          TableName: name,
          KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
          AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
          BillingMode: 'PAY_PER_REQUEST',
        }),
      )
      for (let i = 0; i < 100; i++) {
        const { Table } = await admin.send(new DescribeTableCommand({ TableName: name }))
        if (Table?.TableStatus === 'ACTIVE') return
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
      throw new Error(`table ${name} never became ACTIVE`)
    },
    async putItem(table, item) {
      const attributes: Item = {}
      for (const [name, value] of Object.entries(item)) attributes[name] = { S: value }
      await admin.send(new PutItemCommand({ TableName: table, Item: attributes }))
    },
    streamChanges(changes) {
      // The example's tables have one key attribute, `id` (createTable above).
      streamed.set(changes.table, {
        stream: changes.stream,
        client: changes.kinesis.client({ maxAttempts: 3 }),
        keys: ['id'],
      })
    },
    get changesStreamed() {
      return changesStreamed
    },
    async close() {
      admin.destroy()
      for (const server of [proxy, backend]) {
        server.closeAllConnections()
        await new Promise<void>((resolve, reject) =>
          server.close((error) => (error ? reject(error) : resolve())),
        )
      }
    },
  }
}
