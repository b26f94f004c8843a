import { isObject } from '../validate.js'
import {
  type DecodeResult,
  type EncodedRecord,
  type Invalidation,
  keyProblem,
  type RecordDecoder,
  tagProblem,
} from './index.js'

/** One item change, as "Kinesis Data Streams for DynamoDB" describes it. */
export interface DynamoDbChange {
  readonly tableName: string
  readonly eventName: 'INSERT' | 'MODIFY' | 'REMOVE'
  /** When DynamoDB made the change, ms since the epoch (microsecond records converted). */
  readonly approximateCreationTime: number | undefined
}

/** What an item's change invalidates: cache keys, and tags (see `invalidateTags`). */
export interface DynamoDbInvalidation {
  readonly keys?: readonly string[]
  readonly tags?: readonly string[]
}

/**
 * The cache keys an item's change invalidates, or `{ keys, tags }`. `key` is the item's primary
 * key with each attribute as a string (`S` as is, `N` as its decimal text, `B` as base64).
 */
export type DynamoDbKeyMapper = (
  key: Readonly<Record<string, string>>,
  change: DynamoDbChange,
) => string | readonly string[] | DynamoDbInvalidation

export interface DynamoDbDecoderOptions {
  /** Per table name, the cache keys its changes invalidate. Other tables' records are ignored. */
  readonly tables: Readonly<Record<string, DynamoDbKeyMapper>>
}

const EVENTS = new Set(['INSERT', 'MODIFY', 'REMOVE'])
/** Above this, `ApproximateCreationDateTime` is in microseconds (ms reach it in year 5138). */
const MICROSECONDS_FROM = 1e14

type DecodeSkip = { readonly ok: false; readonly reason: 'bad-field' | 'empty' }
const skip = (reason: 'bad-field' | 'empty'): DecodeSkip => ({ ok: false, reason })
const ignored: DecodeResult = {
  ok: true,
  invalidation: { keys: [], prefixes: [], all: false },
  droppedEntries: 0,
  futureVersion: false,
}

/** A key attribute (`{"S": …}`, `{"N": …}` or `{"B": …}`) as a string, or undefined. */
const keyAttribute = (value: unknown): string | undefined => {
  if (!isObject(value)) return undefined
  const types = Object.keys(value)
  if (types.length !== 1) return undefined
  const [type] = types
  const raw = value[type as string]
  return (type === 'S' || type === 'N' || type === 'B') && typeof raw === 'string' ? raw : undefined
}

/** A DynamoDB change record, read: what changed, and the item's primary key as strings. */
export interface DynamoDbChangeRecord {
  readonly change: DynamoDbChange
  readonly key: Readonly<Record<string, string>>
}

/**
 * Reads a "Kinesis Data Streams for DynamoDB" change record from a record's JSON: undefined when
 * it is not one (no `eventSource: "aws:dynamodb"`), a skip when it is one but malformed. Never
 * throws; attribute names like `__proto__` stay plain data.
 */
export const parseDynamoDbChange = (
  json: unknown,
): { readonly ok: true; readonly record: DynamoDbChangeRecord } | DecodeSkip | undefined => {
  if (!isObject(json) || !Object.hasOwn(json, 'eventSource')) return undefined
  if (json.eventSource !== 'aws:dynamodb') return undefined
  const { tableName, eventName, dynamodb } = json
  if (typeof tableName !== 'string' || typeof eventName !== 'string' || !isObject(dynamodb))
    return skip('bad-field')
  if (!EVENTS.has(eventName) || !isObject(dynamodb.Keys)) return skip('bad-field')
  // A Map, then an object built from it: attribute names like `__proto__` stay plain data.
  const key = new Map<string, string>()
  for (const [name, value] of Object.entries(dynamodb.Keys)) {
    const text = keyAttribute(value)
    if (text === undefined) return skip('bad-field')
    key.set(name, text)
  }
  if (key.size === 0) return skip('bad-field')
  const at = dynamodb.ApproximateCreationDateTime
  const change: DynamoDbChange = {
    tableName,
    eventName: eventName as DynamoDbChange['eventName'],
    approximateCreationTime:
      typeof at === 'number' && Number.isFinite(at)
        ? at >= MICROSECONDS_FROM
          ? Math.floor(at / 1_000)
          : at
        : undefined,
  }
  return { ok: true, record: { change, key: Object.fromEntries(key) } }
}

/** A mapper's answer as lists; anything that is not a string or an array of them counts as none. */
const mappedLists = (
  mapped: unknown,
): { readonly keys: readonly unknown[]; readonly tags: readonly unknown[] } => {
  if (typeof mapped === 'string') return { keys: [mapped], tags: [] }
  if (Array.isArray(mapped)) return { keys: mapped, tags: [] }
  if (!isObject(mapped)) return { keys: [], tags: [] }
  const list = (value: unknown): readonly unknown[] =>
    Array.isArray(value) ? value : typeof value === 'string' ? [value] : []
  return { keys: list(mapped.keys), tags: list(mapped.tags) }
}

/**
 * A decoder for "Kinesis Data Streams for DynamoDB" change records: a table streams its item
 * changes into the invalidation stream, and each change evicts the keys `tables` maps it to, with
 * no writer code at all. scache's own records on the same stream are left to scache's decoder.
 */
export const dynamoDbDecoder = (options: DynamoDbDecoderOptions): RecordDecoder => {
  if (!isObject(options) || !isObject(options.tables))
    throw new TypeError('dynamoDbDecoder: tables must be an object of table name → key mapper')
  const tables = new Map<string, DynamoDbKeyMapper>()
  for (const [name, mapper] of Object.entries(options.tables)) {
    if (typeof mapper !== 'function')
      throw new TypeError(`dynamoDbDecoder: tables.${name} must be a function`)
    tables.set(name, mapper)
  }
  return {
    name: 'dynamodb',
    decode(record: EncodedRecord): DecodeResult | undefined {
      const json = record.json()
      const parsed = parseDynamoDbChange(json)
      if (parsed === undefined) return undefined
      if (!parsed.ok) {
        // A change of another table is ignored once its envelope reads: its item is not ours.
        const envelope =
          isObject(json) &&
          typeof json.tableName === 'string' &&
          typeof json.eventName === 'string' &&
          isObject(json.dynamodb)
        return envelope && !tables.has(json.tableName as string) ? ignored : parsed
      }
      const { change, key } = parsed.record
      const mapper = tables.get(change.tableName)
      if (mapper === undefined) return ignored
      const mapped = mapper(key, change)
      const { keys: candidates, tags: tagged } = mappedLists(mapped)
      const keys = candidates.filter(
        (candidate): candidate is string => keyProblem(candidate) === undefined,
      )
      const tags = tagged.filter((tag): tag is string => tagProblem(tag) === undefined)
      if (keys.length === 0 && tags.length === 0) return skip('empty')
      const invalidation: Invalidation =
        tags.length === 0
          ? { keys, prefixes: [], all: false }
          : { keys, prefixes: [], all: false, tags }
      return {
        ok: true,
        invalidation,
        droppedEntries: candidates.length - keys.length + tagged.length - tags.length,
        futureVersion: false,
        ...(change.approximateCreationTime === undefined
          ? {}
          : { at: change.approximateCreationTime }),
      }
    },
  }
}
