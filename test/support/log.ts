import { randomUUID } from 'node:crypto'
import { createRequire } from 'node:module'
import type { AddressInfo } from 'node:net'
import { DeleteItemCommand, DynamoDBClient, QueryCommand } from '@aws-sdk/client-dynamodb'
import type dynaliteType from 'dynalite'
import { afterAll, beforeAll } from 'vitest'
import { createLogTable } from '../../infra/local/log-table.js'
import { copyKey, fromItem, type LogClient, type LogEntry } from '../../src/log/index.js'

const require = createRequire(import.meta.url)
const dynalite = require('dynalite') as typeof dynaliteType

export interface LocalLog {
  readonly endpoint: string
  /** A real SDK client on dynalite, one attempt per call as scache's own. */
  client(): DynamoDBClient
  /** Creates a log table (`pk` S, `seq` N) and returns its name. */
  createTable(name?: string): Promise<string>
  /** Every entry of a copy, in seq order (read around scache). */
  entries(table: string, copy?: number): Promise<LogEntry[]>
  /** Deletes entries, as TTL expiry would. */
  expire(table: string, copy: number, seqs: readonly number[]): Promise<void>
}

/** dynalite in this process for a test file: started before its tests, closed after them. */
export const useLog = (): LocalLog => {
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 })
  const clients: DynamoDBClient[] = []
  let endpoint = ''
  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })
  afterAll(async () => {
    for (const client of clients) client.destroy()
    server.closeAllConnections?.()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  })
  const client = () => {
    const created = new DynamoDBClient({
      endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      maxAttempts: 1,
    })
    clients.push(created)
    return created
  }
  let admin: DynamoDBClient | undefined
  const adminClient = () => {
    admin ??= client()
    return admin
  }
  return {
    get endpoint() {
      return endpoint
    },
    client,
    async createTable(name = `log-${randomUUID().slice(0, 8)}`) {
      await createLogTable(adminClient(), name)
      return name
    },
    async entries(table, copy = 0) {
      const entries: LogEntry[] = []
      let start: Record<string, never> | undefined
      do {
        const page = await adminClient().send(
          new QueryCommand({
            TableName: table,
            KeyConditionExpression: 'pk = :pk',
            ExpressionAttributeValues: { ':pk': { S: copyKey(copy) } },
            ConsistentRead: true,
            ...(start === undefined ? {} : { ExclusiveStartKey: start }),
          }),
        )
        for (const item of page.Items ?? []) {
          const entry = fromItem(item)
          if (entry !== undefined) entries.push(entry)
        }
        start = page.LastEvaluatedKey as Record<string, never> | undefined
      } while (start !== undefined)
      return entries
    },
    async expire(table, copy, seqs) {
      for (const seq of seqs)
        await adminClient().send(
          new DeleteItemCommand({
            TableName: table,
            Key: { pk: { S: copyKey(copy) }, seq: { N: String(seq) } },
          }),
        )
    },
  }
}

/** A fault the wrapper injects into a call: return an error to throw, or undefined to pass. */
export type Fault = (
  command: { readonly constructor: { readonly name: string } },
  call: number,
) => Error | undefined

/** A client that throws where `fault` says and otherwise forwards to the real one (faults only). */
export const faulty = (client: LogClient, fault: Fault): LogClient & { calls: number } => {
  const wrapper = {
    calls: 0,
    send: ((command: Parameters<LogClient['send']>[0], options?: unknown) => {
      const error = fault(command, ++wrapper.calls)
      if (error !== undefined) return Promise.reject(error)
      return (client.send as (c: unknown, o?: unknown) => Promise<unknown>)(command, options)
    }) as LogClient['send'],
  }
  return wrapper
}

/** An error named as DynamoDB names one. */
export const awsError = (name: string): Error => Object.assign(new Error(name), { name })
