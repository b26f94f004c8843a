import type { AttributeValue, QueryCommandInput } from '@aws-sdk/client-dynamodb'
import { type Invalidation, keyProblem } from '../record/index.js'

/**
 * The log table: the contract between the relay (writer), the log source (containers) and
 * anything else that reads or models the table (the fleet simulator). Everything here is
 * exact; change it only with both sides.
 *
 * TABLE: partition key `pk` (S), sort key `seq` (N); TTL attribute `expiresAt`;
 * PAY_PER_REQUEST by default.
 *
 * ITEM (one log entry):
 * | attribute   | type    | presence | meaning                                                  |
 * |-------------|---------|----------|----------------------------------------------------------|
 * | `pk`        | S       | always   | the copy: `log#0` … `log#<copies-1>`                     |
 * | `seq`       | N       | always   | position in the copy: dense, from 1, integer             |
 * | `keys`      | L of S  | if any   | keys to evict                                            |
 * | `prefixes`  | L of S  | if any   | key prefixes to evict                                    |
 * | `all`       | BOOL    | if true  | evict everything                                         |
 * | `at`        | N       | always   | relay's wall clock at append, ms since the epoch         |
 * | `upTo`      | N       | if known | newest Kinesis `ApproximateArrivalTimestamp` (ms) among  |
 * |             |         |          | the records this entry completes: the shard is relayed   |
 * |             |         |          | up to here                                               |
 * | `shard`     | S       | always   | the Kinesis shard the batch came from (diagnostics)      |
 * | `expiresAt` | N       | always   | TTL, epoch SECONDS: `at` + retention                     |
 * An entry with no keys, no prefixes and not `all` is a heartbeat (progress only). An item that
 * does not parse (bad types, bad keys) is read as `all`: it meant something, so evict everything.
 * Entries are kept under `ENTRY_MAX_BYTES` (estimated as DynamoDB sizes items) so that a poll
 * reading one entry costs one read unit (strongly consistent reads cost 1 per 4 KB).
 *
 * APPEND (relay; `appendInput`): per copy, in batch order, each entry at `head + 1` with
 * `PutItem { ConditionExpression: 'attribute_not_exists(#seq)', ExpressionAttributeNames:
 * { '#seq': 'seq' } }`. `ConditionalCheckFailedException` → another relay took that seq: re-read
 * the head (`headQuery`) and retry at the new head + 1. The head starts unknown (read it first)
 * and is cached between invocations; an empty copy has head 0. No transactions. A batch the
 * mapping retries appends again (duplicates are harmless: eviction is idempotent). Every batch
 * appends at least one entry (a heartbeat entry when it had nothing to evict), so the log moves
 * whenever the stream does.
 *
 * QUERIES (all `ConsistentRead: true`, names through `#pk`/`#seq`, values `:pk`/`:after`):
 * - `pollQuery` (a container with a position p): `#pk = :pk AND #seq > :after`, ascending,
 *   `Limit: POLL_PAGE_ENTRIES`; follows `LastEvaluatedKey` as `ExclusiveStartKey`, at most
 *   `maxPagesPerShard` pages, then restarts (`behind`). One Query per poll in steady state.
 *   First seq ≠ p + 1 → entries expired: restart (`retention`).
 * - `anchorQuery` (no position: cold start, after a skip or restart, anchored at a time T):
 *   `#pk = :pk`, descending, `Limit: ANCHOR_PAGE_ENTRIES`; applies entries with `at ≥ T − skew`,
 *   pages on while every entry of the page is that young. Position = the newest seq read.
 * - `headQuery` (relay; a container whose log is silent, to spot a reset copy):
 *   `#pk = :pk`, descending, `Limit: 1`.
 *
 * HEARTBEAT: a scheduled function puts `{"v":1,"heartbeat":true,"at":<ms>}` on the stream every
 * `intervalMs` (5 s by default); the relay appends it like any batch. Its entry's `upTo` is the
 * record's arrival time at Kinesis (the server's clock, not the record's claim).
 */

/** Partition key of copy `copy`. */
export const copyKey = (copy: number): string => `log#${copy}`

/** Entries a poll page reads. A steady-state poll reads one to a few. */
export const POLL_PAGE_ENTRIES = 100
/** Entries an anchoring read takes per page. */
export const ANCHOR_PAGE_ENTRIES = 25
/** An entry's estimated size cap, under DynamoDB's 4 KB read unit with room for rounding. */
export const ENTRY_MAX_BYTES = 3_500
/** Default retention of entries (the TTL): 24 hours, as Kinesis' default. */
export const DEFAULT_RETENTION_MS = 24 * 3_600_000

/** One log entry, as the relay writes it and containers read it. */
export interface LogEntry extends Invalidation {
  readonly seq: number
  readonly at: number
  readonly upTo?: number
  readonly shard: string
  readonly expiresAt: number
}

export type Item = Record<string, AttributeValue>

const NAMES = { '#pk': 'pk', '#seq': 'seq' } as const

/** The Query of a container at position `after`; `start` continues a page. */
export const pollQuery = (
  table: string,
  copy: number,
  after: number,
  start?: Item,
): QueryCommandInput => ({
  TableName: table,
  KeyConditionExpression: '#pk = :pk AND #seq > :after',
  ExpressionAttributeNames: NAMES,
  ExpressionAttributeValues: { ':pk': { S: copyKey(copy) }, ':after': { N: String(after) } },
  ConsistentRead: true,
  ScanIndexForward: true,
  Limit: POLL_PAGE_ENTRIES,
  ...(start === undefined ? {} : { ExclusiveStartKey: start }),
})

/** The newest entries first: the head (`limit` 1) or an anchoring read. */
export const newestQuery = (
  table: string,
  copy: number,
  limit: number,
  start?: Item,
): QueryCommandInput => ({
  TableName: table,
  KeyConditionExpression: '#pk = :pk',
  ExpressionAttributeNames: { '#pk': 'pk' },
  ExpressionAttributeValues: { ':pk': { S: copyKey(copy) } },
  ConsistentRead: true,
  ScanIndexForward: false,
  Limit: limit,
  ...(start === undefined ? {} : { ExclusiveStartKey: start }),
})

export const headQuery = (table: string, copy: number): QueryCommandInput =>
  newestQuery(table, copy, 1)

export const anchorQuery = (table: string, copy: number, start?: Item): QueryCommandInput =>
  newestQuery(table, copy, ANCHOR_PAGE_ENTRIES, start)

/** The conditional PutItem of an entry at its seq. */
export const appendInput = (table: string, copy: number, entry: LogEntry) => ({
  TableName: table,
  Item: toItem(copy, entry),
  ConditionExpression: 'attribute_not_exists(#seq)',
  ExpressionAttributeNames: { '#seq': 'seq' },
})

const strings = (values: readonly string[]): AttributeValue => ({
  L: values.map((value) => ({ S: value })),
})

export const toItem = (copy: number, entry: LogEntry): Item => ({
  pk: { S: copyKey(copy) },
  seq: { N: String(entry.seq) },
  ...(entry.keys.length > 0 ? { keys: strings(entry.keys) } : {}),
  ...(entry.prefixes.length > 0 ? { prefixes: strings(entry.prefixes) } : {}),
  ...(entry.all ? { all: { BOOL: true } } : {}),
  at: { N: String(entry.at) },
  ...(entry.upTo === undefined ? {} : { upTo: { N: String(entry.upTo) } }),
  shard: { S: entry.shard },
  expiresAt: { N: String(entry.expiresAt) },
})

const number = (value: AttributeValue | undefined): number | undefined => {
  if (value?.N === undefined) return undefined
  const parsed = Number(value.N)
  return Number.isFinite(parsed) ? parsed : undefined
}

/**
 * The seq an appender must go above, from the newest item of a copy, whatever else that item
 * holds: a malformed item (a fractional seq, missing fields) still takes its place in the sort
 * order, so the next entry goes at its floor + 1. Undefined when the item has no numeric seq.
 */
export const headSeqOf = (item: Item): number | undefined => {
  const seq = number(item.seq)
  return seq === undefined ? undefined : Math.max(0, Math.floor(seq))
}

/** Valid keys of a list attribute; undefined when the attribute is malformed. */
const keyList = (value: AttributeValue | undefined): string[] | undefined => {
  if (value === undefined) return []
  if (value.L === undefined) return undefined
  const keys: string[] = []
  for (const each of value.L) {
    if (each.S === undefined || keyProblem(each.S) !== undefined) return undefined
    keys.push(each.S)
  }
  return keys
}

/**
 * Reads an item. Undefined when it has no usable `seq` (not an entry of ours); an entry with
 * anything else malformed is read as `all`: it meant to evict something, so evict everything.
 */
export const fromItem = (item: Item): LogEntry | undefined => {
  const seq = number(item.seq)
  if (seq === undefined || !Number.isSafeInteger(seq) || seq < 1) return undefined
  const keys = keyList(item.keys)
  const prefixes = keyList(item.prefixes)
  const all = item.all === undefined ? false : item.all.BOOL
  const at = number(item.at) ?? 0
  const upTo = number(item.upTo)
  const common = {
    seq,
    at,
    ...(upTo === undefined ? {} : { upTo }),
    shard: item.shard?.S ?? '',
    expiresAt: number(item.expiresAt) ?? Number.POSITIVE_INFINITY,
  }
  if (keys === undefined || prefixes === undefined || typeof all !== 'boolean')
    return { ...common, keys: [], prefixes: [], all: true }
  return { ...common, keys, prefixes, all }
}

/** Whether an entry is a heartbeat: it evicts nothing. */
export const isHeartbeat = (entry: Invalidation): boolean =>
  !entry.all && entry.keys.length === 0 && entry.prefixes.length === 0

/** The heartbeat record the scheduled heartbeat puts on the stream. */
export const heartbeatRecord = (at: number): string => JSON.stringify({ v: 1, heartbeat: true, at })

/** Whether a record's parsed JSON is a heartbeat (checked before any decoder sees it). */
export const isHeartbeatRecord = (json: unknown): boolean =>
  typeof json === 'object' &&
  json !== null &&
  (json as Record<string, unknown>).v === 1 &&
  (json as Record<string, unknown>).heartbeat === true

/**
 * An item's size as DynamoDB counts it (attribute names and values in UTF-8, numbers about a
 * byte per two digits, plus a few bytes per list element), rounded up: for `ENTRY_MAX_BYTES`.
 */
export const itemBytes = (item: Item): number => {
  let bytes = 0
  const size = (value: AttributeValue): number => {
    if (value.S !== undefined) return Buffer.byteLength(value.S)
    if (value.N !== undefined) return Math.ceil(value.N.length / 2) + 1
    if (value.BOOL !== undefined) return 1
    if (value.L !== undefined) return 3 + value.L.reduce((sum, each) => sum + 1 + size(each), 0)
    return 1
  }
  for (const [name, value] of Object.entries(item)) bytes += Buffer.byteLength(name) + size(value)
  return bytes
}
