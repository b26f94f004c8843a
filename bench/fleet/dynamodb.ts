import {
  type AttributeValue,
  ConditionalCheckFailedException,
  type DynamoDBClient,
  DynamoDBServiceException,
  GetItemCommand,
  ProvisionedThroughputExceededException,
  PutItemCommand,
  QueryCommand,
  ResourceNotFoundException,
  ThrottlingException,
} from '@aws-sdk/client-dynamodb'
import type { Caller } from './kinesis.js'

/**
 * DynamoDB's throughput limits, as its documentation states them ("Service, account, and table
 * quotas"; "Read/write capacity mode"; the throttling guide).
 */
export interface DynamoDBLimits {
  /** Read units a partition serves per second, in either capacity mode. */
  readonly readUnitsPerSecondPerPartition: number
  /** Write units a partition serves per second; reads and writes share a partition linearly. */
  readonly writeUnitsPerSecondPerPartition: number
  /** Bytes a strongly consistent read unit covers (a Query sums its items, then rounds up). */
  readonly readUnitBytes: number
  /** Bytes a write unit covers, per item, rounded up. */
  readonly writeUnitBytes: number
  /** Most bytes of items one Query evaluates before it stops with a LastEvaluatedKey. */
  readonly queryPageBytes: number
}

export const dynamoDBLimits: DynamoDBLimits = {
  readUnitsPerSecondPerPartition: 3_000,
  writeUnitsPerSecondPerPartition: 1_000,
  readUnitBytes: 4 * 1024,
  writeUnitBytes: 1024,
  queryPageBytes: 1024 * 1024,
}

export interface SimulatedTable {
  readonly name: string
  /** Partition key attribute (type S); one partition per value, as a hot item collection is. */
  readonly partitionKey: string
  /** Sort key attribute (type N). */
  readonly sortKey: string
  /**
   * Provisioned capacity, per second, for the whole table (absent: on-demand, limited by the
   * partitions only). Enforced like the partition limit: a one-second window, no burst credit.
   */
  readonly provisioned?: { readonly readUnits: number; readonly writeUnits: number }
  /**
   * On-demand maximum throughput (`OnDemandThroughput`), read units per second for the table:
   * past it, `ThrottlingException`.
   */
  readonly maxReadUnitsPerSecond?: number
}

export interface SimulatedDynamoDBOptions {
  readonly tables: readonly SimulatedTable[]
  readonly limits?: Partial<DynamoDBLimits>
  /**
   * How long a write stays invisible to eventually consistent reads, ms (DynamoDB: "usually
   * within one second"). Strongly consistent reads see every acknowledged write.
   */
  readonly eventualLagMs?: number
}

export interface SimulatedDynamoDBStats {
  /** Every call received, by operation. */
  readonly calls: Record<string, number>
  /** Calls refused by a throughput limit, by operation. */
  readonly throttled: Record<string, number>
  /** Conditional writes whose condition failed (they consume write units all the same). */
  readonly conditionalFailures: number
  /** Read units consumed by strongly consistent and by eventually consistent reads. */
  readonly consistentReadUnits: number
  readonly eventualReadUnits: number
  readonly writeUnits: number
  /** Read units consumed per partition (`table/partition key`). */
  readonly readUnitsByPartition: Record<string, number>
  readonly itemsRead: number
  /** Calls refused by a throughput limit, by the role of the client that sent them. */
  readonly throttledByRole: Record<string, number>
  /** The most read units consumed in one second of the clock (seconds counted from 0). */
  readonly peakReadUnitsPerSecond: number
}

type Item = Record<string, AttributeValue>

interface StoredItem {
  readonly item: Item
  readonly sort: number
  readonly bytes: number
  readonly writtenAt: number
}

/**
 * What a resource spent in the last second, as a share of what it serves per second: a sliding
 * one-second window, as the Kinesis simulation counts calls.
 */
class Window {
  readonly #at: number[] = []
  readonly #share: number[] = []
  #head = 0
  #sum = 0

  /** The share spent in the second up to `at`. */
  spent(at: number): number {
    while (this.#head < this.#at.length && (this.#at[this.#head] ?? 0) <= at - 1_000) {
      this.#sum -= this.#share[this.#head] ?? 0
      this.#head++
    }
    if (this.#head > 4_096 && this.#head * 2 > this.#at.length) {
      this.#at.splice(0, this.#head)
      this.#share.splice(0, this.#head)
      this.#head = 0
    }
    // Guards against the float drift of many small additions and subtractions.
    if (this.#head === this.#at.length) this.#sum = 0
    return this.#sum
  }

  add(at: number, share: number): void {
    this.#at.push(at)
    this.#share.push(share)
    this.#sum += share
  }
}

/** A window this full is spent (shares of a second add up with float rounding). */
const FULL = 1 - 1e-9

interface Table {
  readonly spec: SimulatedTable
  readonly partitions: Map<string, StoredItem[]>
  readonly windows: Map<string, Window>
  readonly readWindow: Window
  readonly writeWindow: Window
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] }

const metadata = (status: number) => ({ httpStatusCode: status, requestId: 'simulated' })
const utf8 = new TextEncoder()

/**
 * An item's size as DynamoDB bills it: each attribute's name (UTF-8 bytes) plus its value:
 * strings and binaries their length, numbers about one byte per two significant digits plus
 * one, booleans and nulls one byte, lists and maps 3 bytes plus 1 per element plus the elements.
 */
export const itemBytes = (item: Item): number => {
  let bytes = 0
  for (const [name, value] of Object.entries(item))
    bytes += utf8.encode(name).length + valueBytes(value)
  return bytes
}

const valueBytes = (value: AttributeValue): number => {
  if (value.S !== undefined) return utf8.encode(value.S).length
  if (value.N !== undefined) return numberBytes(value.N)
  if (value.B !== undefined) return value.B.byteLength
  if (value.BOOL !== undefined || value.NULL !== undefined) return 1
  if (value.SS !== undefined) return value.SS.reduce((n, s) => n + utf8.encode(s).length, 0)
  if (value.NS !== undefined) return value.NS.reduce((n, s) => n + numberBytes(s), 0)
  if (value.BS !== undefined) return value.BS.reduce((n, b) => n + b.byteLength, 0)
  if (value.L !== undefined) return 3 + value.L.reduce((n, v) => n + 1 + valueBytes(v), 0)
  if (value.M !== undefined)
    return (
      3 +
      Object.entries(value.M).reduce(
        (n, [k, v]) => n + 1 + utf8.encode(k).length + valueBytes(v),
        0,
      )
    )
  return 0
}

const numberBytes = (text: string): number => {
  const digits = text
    .replace(/^-/, '')
    .replace(/[eE].*$/, '')
    .replace('.', '')
    .replace(/^0+/, '')
  return Math.min(21, Math.ceil(Math.max(1, digits.replace(/0+$/, '').length) / 2) + 1)
}

/** A key condition or sort-key comparison, parsed from the expression's small grammar. */
interface SortCondition {
  readonly op: '=' | '<' | '<=' | '>' | '>=' | 'BETWEEN'
  readonly values: readonly number[]
}

/** DynamoDB's ValidationException, which the SDK does not model as a class of its own. */
const validation = (message: string) =>
  new DynamoDBServiceException({
    name: 'ValidationException',
    $fault: 'client',
    message,
    $metadata: metadata(400),
  })

/**
 * An in-memory DynamoDB, in virtual time, for the fleet simulation: the commands a log table
 * needs (Query on a partition key and a numeric sort key, PutItem with an
 * `attribute_not_exists` condition, GetItem) through a client's `send`. It enforces the
 * per-partition limits (3,000 read units/s and 1,000 write units/s, shared linearly), a
 * provisioned table's capacity, and an on-demand table's maximum throughput, as DynamoDB
 * answers: `ProvisionedThroughputExceededException` for a partition or provisioned capacity,
 * `ThrottlingException` for the on-demand maximum, with `ThrottlingReasons`. A throttled call
 * consumes nothing. Read units: a Query sums the sizes of the items it returns, rounds up to
 * 4 KB, and costs one unit per step strongly consistent, half eventually consistent (at least
 * one step, even when it returns nothing). Write units: one per KB of the item, rounded up,
 * conditional failures included.
 */
export class SimulatedDynamoDB {
  readonly limits: DynamoDBLimits
  readonly #tables = new Map<string, Table>()
  readonly #eventualLagMs: number
  #stats: Mutable<SimulatedDynamoDBStats> = SimulatedDynamoDB.#emptyStats()
  readonly #readUnitsBySecond = new Map<number, number>()

  constructor(options: SimulatedDynamoDBOptions) {
    this.limits = { ...dynamoDBLimits, ...options.limits }
    this.#eventualLagMs = options.eventualLagMs ?? 0
    for (const spec of options.tables)
      this.#tables.set(spec.name, {
        spec,
        partitions: new Map(),
        windows: new Map(),
        readWindow: new Window(),
        writeWindow: new Window(),
      })
  }

  static #emptyStats(): Mutable<SimulatedDynamoDBStats> {
    return {
      calls: {},
      throttled: {},
      conditionalFailures: 0,
      consistentReadUnits: 0,
      eventualReadUnits: 0,
      writeUnits: 0,
      readUnitsByPartition: {},
      itemsRead: 0,
      throttledByRole: {},
      peakReadUnitsPerSecond: 0,
    }
  }

  stats(): SimulatedDynamoDBStats {
    const s = this.#stats
    return {
      ...s,
      calls: { ...s.calls },
      throttled: { ...s.throttled },
      readUnitsByPartition: { ...s.readUnitsByPartition },
    }
  }

  resetStats(): void {
    this.#stats = SimulatedDynamoDB.#emptyStats()
    this.#readUnitsBySecond.clear()
  }

  /** Items of one partition, in sort-key order (for tests and the report). */
  items(tableName: string, partition: string): Item[] {
    return (this.#table(tableName).partitions.get(partition) ?? []).map((stored) => stored.item)
  }

  /** Deletes items of a partition with sort key ≤ `throughSort`, as TTL expiry would. */
  expire(tableName: string, partition: string, throughSort: number): void {
    const items = this.#table(tableName).partitions.get(partition)
    if (items === undefined) return
    const keep = items.filter((stored) => stored.sort > throughSort)
    items.splice(0, items.length, ...keep)
  }

  /** Deletes the items of a partition `doomed` picks, in any order, as TTL deletion does. */
  remove(tableName: string, partition: string, doomed: (item: Item) => boolean): number {
    const items = this.#table(tableName).partitions.get(partition)
    if (items === undefined) return 0
    const keep = items.filter((stored) => !doomed(stored.item))
    const removed = items.length - keep.length
    items.splice(0, items.length, ...keep)
    return removed
  }

  /**
   * A client for one caller (its `send`, all scache calls): each call is answered as of the caller's clock when it is
   * sent, and arrives `latencyMs()` later in that clock (see SimulatedKinesis.client).
   */
  client(caller: Caller, role = 'client'): DynamoDBClient {
    const send = (command: unknown): Promise<unknown> => {
      const sentAt = caller.now()
      const arrivesAt = sentAt + caller.latencyMs()
      let outcome: { ok: true; output: unknown } | { ok: false; error: unknown }
      try {
        outcome = { ok: true, output: this.handle(command, sentAt) }
      } catch (error) {
        if (
          error instanceof ProvisionedThroughputExceededException ||
          error instanceof ThrottlingException
        )
          this.#stats.throttledByRole[role] = (this.#stats.throttledByRole[role] ?? 0) + 1
        outcome = { ok: false, error }
      }
      return Promise.resolve().then(() => {
        caller.arrive(arrivesAt)
        if (!outcome.ok) throw outcome.error
        return outcome.output
      })
    }
    // scache's log source and relay use only send(). A whole SDK client per simulated
    // container would cost more memory than the rest of the container: 10,000 of them do not fit.
    return { send } as unknown as DynamoDBClient
  }

  /** Answers one command as of `at` (virtual ms), or throws the error DynamoDB would. */
  handle(command: unknown, at: number): unknown {
    const operation = (command as { constructor: { name: string } }).constructor.name.replace(
      /Command$/,
      '',
    )
    const stats = this.#stats
    stats.calls[operation] = (stats.calls[operation] ?? 0) + 1
    try {
      if (command instanceof QueryCommand) return this.#query(command, at)
      if (command instanceof PutItemCommand) return this.#put(command, at)
      if (command instanceof GetItemCommand) return this.#get(command, at)
    } catch (error) {
      if (
        error instanceof ProvisionedThroughputExceededException ||
        error instanceof ThrottlingException
      )
        stats.throttled[operation] = (stats.throttled[operation] ?? 0) + 1
      throw error
    }
    throw new Error(`SimulatedDynamoDB: ${operation} is not simulated`)
  }

  #countSecond(at: number, units: number): void {
    const second = Math.floor(at / 1_000)
    const total = (this.#readUnitsBySecond.get(second) ?? 0) + units
    this.#readUnitsBySecond.set(second, total)
    if (total > this.#stats.peakReadUnitsPerSecond) this.#stats.peakReadUnitsPerSecond = total
  }

  #table(name: string | undefined): Table {
    const table = this.#tables.get(name ?? '')
    if (table === undefined)
      throw new ResourceNotFoundException({
        message: `Requested resource not found: Table: ${name} not found`,
        $metadata: metadata(400),
      })
    return table
  }

  #arn(table: Table): string {
    return `arn:aws:dynamodb:us-east-1:000000000000:table/${table.spec.name}`
  }

  /**
   * Refuses a call if a resource it draws on spent its second. What a call consumes is only
   * known once it ran, so a call is admitted while the window is not yet full and may overdraw
   * it by its own cost, as DynamoDB's admission does.
   */
  #admit(table: Table, partition: string, kind: 'Read' | 'Write', at: number): void {
    const resource = this.#arn(table)
    if (this.#window(table, partition).spent(at) >= FULL)
      throw new ProvisionedThroughputExceededException({
        message: 'The level of configured provisioned throughput for the table was exceeded.',
        ThrottlingReasons: [{ reason: `Table${kind}KeyRangeThroughputExceeded`, resource }],
        $metadata: metadata(400),
      })
    const tableWindow = kind === 'Read' ? table.readWindow : table.writeWindow
    if (table.spec.provisioned !== undefined && tableWindow.spent(at) >= FULL)
      throw new ProvisionedThroughputExceededException({
        message: 'The level of configured provisioned throughput for the table was exceeded.',
        ThrottlingReasons: [{ reason: `Table${kind}ProvisionedThroughputExceeded`, resource }],
        $metadata: metadata(400),
      })
    if (
      kind === 'Read' &&
      table.spec.provisioned === undefined &&
      table.spec.maxReadUnitsPerSecond !== undefined &&
      tableWindow.spent(at) >= FULL
    )
      throw new ThrottlingException({
        message: 'Throughput exceeds the maximum OnDemandThroughput configured for the table.',
        throttlingReasons: [{ reason: 'TableReadMaxOnDemandThroughputExceeded', resource }],
        $metadata: metadata(400),
      })
  }

  #window(table: Table, partition: string): Window {
    let window = table.windows.get(partition)
    if (window === undefined) {
      window = new Window()
      table.windows.set(partition, window)
    }
    return window
  }

  #consume(
    table: Table,
    partition: string,
    kind: 'Read' | 'Write',
    units: number,
    at: number,
  ): void {
    const perSecond =
      kind === 'Read'
        ? this.limits.readUnitsPerSecondPerPartition
        : this.limits.writeUnitsPerSecondPerPartition
    this.#window(table, partition).add(at, units / perSecond)
    const provisioned = table.spec.provisioned
    if (provisioned !== undefined) {
      const capacity = kind === 'Read' ? provisioned.readUnits : provisioned.writeUnits
      ;(kind === 'Read' ? table.readWindow : table.writeWindow).add(at, units / capacity)
    } else if (kind === 'Read' && table.spec.maxReadUnitsPerSecond !== undefined) {
      table.readWindow.add(at, units / table.spec.maxReadUnitsPerSecond)
    }
  }

  #names(input: { ExpressionAttributeNames?: Record<string, string> | undefined }) {
    return (token: string): string =>
      token.startsWith('#') ? (input.ExpressionAttributeNames?.[token] ?? token) : token
  }

  #value(input: { ExpressionAttributeValues?: Item | undefined }, token: string): AttributeValue {
    const value = input.ExpressionAttributeValues?.[token]
    if (value === undefined) throw validation(`Value ${token} is not defined`)
    return value
  }

  /** `pk = :p [AND sk (=|<|<=|>|>=) :v | AND sk BETWEEN :a AND :b]`, names through `#x`. */
  #keyCondition(table: Table, command: QueryCommand): { partition: string; sort?: SortCondition } {
    const input = command.input
    const name = this.#names(input)
    const text = (input.KeyConditionExpression ?? '').trim()
    const match =
      /^\(?\s*([#\w]+)\s*=\s*(:\w+)\s*\)?(?:\s+AND\s+\(?\s*([#\w]+)\s*(?:(=|<=|<|>=|>)\s*(:\w+)|BETWEEN\s+(:\w+)\s+AND\s+(:\w+))\s*\)?)?$/i.exec(
        text,
      )
    if (match === null) throw validation(`Invalid KeyConditionExpression: ${text}`)
    const [, pkName, pkValue, skName, op, skValue, low, high] = match
    if (name(pkName ?? '') !== table.spec.partitionKey)
      throw validation('Query condition missed key schema element')
    const partition = this.#value(input, pkValue ?? '').S
    if (partition === undefined) throw validation('Partition key must be a string')
    if (skName === undefined) return { partition }
    if (name(skName) !== table.spec.sortKey) throw validation('Query key condition not supported')
    const number = (token: string) => {
      const n = this.#value(input, token).N
      if (n === undefined) throw validation('Sort key must be a number')
      return Number(n)
    }
    if (op !== undefined)
      return { partition, sort: { op: op as SortCondition['op'], values: [number(skValue ?? '')] } }
    return { partition, sort: { op: 'BETWEEN', values: [number(low ?? ''), number(high ?? '')] } }
  }

  #query(command: QueryCommand, at: number): unknown {
    const input = command.input
    const table = this.#table(input.TableName)
    if (input.FilterExpression !== undefined) throw validation('FilterExpression is not simulated')
    const { partition, sort } = this.#keyCondition(table, command)
    this.#admit(table, partition, 'Read', at)
    const consistent = input.ConsistentRead === true
    const visibleUntil = consistent ? at : at - this.#eventualLagMs
    const forward = input.ScanIndexForward !== false
    const limit = input.Limit ?? Number.POSITIVE_INFINITY
    if (limit < 1) throw validation('Limit must be at least 1')
    const start = input.ExclusiveStartKey?.[table.spec.sortKey]?.N
    const all = table.partitions.get(partition) ?? []
    const ordered = forward ? all : [...all].reverse()
    const matches = (s: number): boolean => {
      if (start !== undefined && (forward ? s <= Number(start) : s >= Number(start))) return false
      if (sort === undefined) return true
      const [a = 0, b = 0] = sort.values
      switch (sort.op) {
        case '=':
          return s === a
        case '<':
          return s < a
        case '<=':
          return s <= a
        case '>':
          return s > a
        case '>=':
          return s >= a
        case 'BETWEEN':
          return s >= a && s <= b
      }
    }
    const items: StoredItem[] = []
    let bytes = 0
    let more = false
    for (const stored of ordered) {
      if (stored.writtenAt > visibleUntil || !matches(stored.sort)) continue
      if (items.length >= limit || bytes >= this.limits.queryPageBytes) {
        more = true
        break
      }
      items.push(stored)
      bytes += stored.bytes
    }
    const steps = Math.max(1, Math.ceil(bytes / this.limits.readUnitBytes))
    const units = consistent ? steps : steps / 2
    this.#consume(table, partition, 'Read', units, at)
    const stats = this.#stats
    if (consistent) stats.consistentReadUnits += units
    else stats.eventualReadUnits += units
    const key = `${table.spec.name}/${partition}`
    stats.readUnitsByPartition[key] = (stats.readUnitsByPartition[key] ?? 0) + units
    this.#countSecond(at, units)
    stats.itemsRead += items.length
    const last = items[items.length - 1]
    return {
      $metadata: metadata(200),
      Items: items.map((stored) => project(stored.item, input)),
      Count: items.length,
      ScannedCount: items.length,
      ...(more && last !== undefined
        ? {
            LastEvaluatedKey: {
              [table.spec.partitionKey]: { S: partition },
              [table.spec.sortKey]: { N: String(last.sort) },
            },
          }
        : {}),
      ...(input.ReturnConsumedCapacity !== undefined && input.ReturnConsumedCapacity !== 'NONE'
        ? { ConsumedCapacity: { TableName: table.spec.name, CapacityUnits: units } }
        : {}),
    }
  }

  #keyOf(table: Table, item: Item | undefined): { partition: string; sort: number } {
    const partition = item?.[table.spec.partitionKey]?.S
    const sort = item?.[table.spec.sortKey]?.N
    if (partition === undefined || sort === undefined)
      throw validation('One or more parameter values were invalid: Missing the key')
    return { partition, sort: Number(sort) }
  }

  #put(command: PutItemCommand, at: number): unknown {
    const input = command.input
    const table = this.#table(input.TableName)
    const item = input.Item ?? {}
    const { partition, sort } = this.#keyOf(table, item)
    this.#admit(table, partition, 'Write', at)
    const bytes = itemBytes(item)
    if (bytes > 400 * 1024) throw validation('Item size has exceeded the maximum allowed size')
    const units = Math.max(1, Math.ceil(bytes / this.limits.writeUnitBytes))
    this.#consume(table, partition, 'Write', units, at)
    this.#stats.writeUnits += units
    let items = table.partitions.get(partition)
    if (items === undefined) {
      items = []
      table.partitions.set(partition, items)
    }
    // Binary search for the sort key: appends come in order, so this is usually the end.
    let low = 0
    let high = items.length
    while (low < high) {
      const mid = (low + high) >>> 1
      if ((items[mid]?.sort ?? 0) < sort) low = mid + 1
      else high = mid
    }
    const existing = items[low]?.sort === sort ? items[low] : undefined
    const condition = input.ConditionExpression?.trim()
    if (condition !== undefined) {
      const match = /^attribute_not_exists\s*\(\s*([#\w]+)\s*\)$/i.exec(condition)
      if (match === null) throw validation(`ConditionExpression not simulated: ${condition}`)
      const attribute = this.#names(input)(match[1] ?? '')
      if (existing !== undefined && existing.item[attribute] !== undefined) {
        this.#stats.conditionalFailures++
        throw new ConditionalCheckFailedException({
          message: 'The conditional request failed',
          $metadata: metadata(400),
          ...(input.ReturnValuesOnConditionCheckFailure === 'ALL_OLD'
            ? { Item: existing.item }
            : {}),
        })
      }
    }
    const stored: StoredItem = { item, sort, bytes, writtenAt: at }
    if (existing !== undefined) items[low] = stored
    else items.splice(low, 0, stored)
    return { $metadata: metadata(200) }
  }

  #get(command: GetItemCommand, at: number): unknown {
    const input = command.input
    const table = this.#table(input.TableName)
    const { partition, sort } = this.#keyOf(table, input.Key)
    this.#admit(table, partition, 'Read', at)
    const consistent = input.ConsistentRead === true
    const visibleUntil = consistent ? at : at - this.#eventualLagMs
    const found = (table.partitions.get(partition) ?? []).find(
      (stored) => stored.sort === sort && stored.writtenAt <= visibleUntil,
    )
    const steps = Math.max(1, Math.ceil((found?.bytes ?? 0) / this.limits.readUnitBytes))
    const units = consistent ? steps : steps / 2
    this.#consume(table, partition, 'Read', units, at)
    if (consistent) this.#stats.consistentReadUnits += units
    else this.#stats.eventualReadUnits += units
    this.#countSecond(at, units)
    return {
      $metadata: metadata(200),
      ...(found !== undefined ? { Item: project(found.item, input) } : {}),
    }
  }
}

/** Applies a ProjectionExpression of plain (or `#name`) attributes; the cost is unchanged. */
const project = (
  item: Item,
  input: {
    ProjectionExpression?: string | undefined
    ExpressionAttributeNames?: Record<string, string> | undefined
  },
): Item => {
  if (input.ProjectionExpression === undefined) return item
  const names = input.ProjectionExpression.split(',').map((token) => {
    const t = token.trim()
    return t.startsWith('#') ? (input.ExpressionAttributeNames?.[t] ?? t) : t
  })
  const out: Item = {}
  for (const name of names) {
    const value = item[name]
    if (value !== undefined) out[name] = value
  }
  return out
}
