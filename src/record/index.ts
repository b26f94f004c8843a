import { createHmac, timingSafeEqual } from 'node:crypto'

/**
 * The invalidation record: scache's wire format on the stream, shared by the publisher (encode)
 * and the stream reader (decode). Every record read is untrusted input: anyone allowed to
 * PutRecord on the stream can write one.
 *
 * `{"v":1,"keys":["users:42"],"prefixes":["orders:"],"all":false,"at":1763700000000}`
 *
 * Signed with a shared secret, it also carries `"sig"`: the HMAC-SHA256 (base64url) of
 * `[v, keys, prefixes, all, at]` as JSON, which a reader recomputes from the fields it parsed.
 */

export const RECORD_VERSION = 1

/** Limits every record must respect; the publisher splits work so that it never exceeds them. */
export const recordLimits = {
  /** Kinesis caps a record (data + partition key) at 1 MiB. */
  maxRecordBytes: 1_048_576 - 256,
  maxKeysPerRecord: 10_000,
  /** In UTF-16 code units, as `string.length`; also the longest key the cache accepts. */
  maxKeyLength: 1_024,
} as const

/** What one record asks readers to evict. */
export interface Invalidation {
  readonly keys: readonly string[]
  readonly prefixes: readonly string[]
  readonly all: boolean
}

export type SkipReason =
  | 'too-large'
  | 'not-utf8'
  | 'not-json'
  | 'not-an-object'
  | 'bad-version'
  | 'bad-field'
  | 'empty'
  /** A custom decoder threw on the record. */
  | 'decoder-error'
  /** The reader requires signed records (`secret`), and this one has no signature. */
  | 'unsigned'
  /** The record's signature matches none of the reader's secrets: forged or altered. */
  | 'bad-signature'

export type DecodeResult =
  | {
      readonly ok: true
      readonly invalidation: Invalidation
      /** Entries of `keys`/`prefixes` dropped because they were not valid keys. */
      readonly droppedEntries: number
      /** The record came from a newer writer; it is applied as invalidate-all, which is always safe. */
      readonly futureVersion: boolean
      /**
       * When the producer made the change, ms since the epoch, if the record says: a scache
       * record's `at`, a DynamoDB change's creation time. Untrusted, so for display and delay
       * measurements only, never for ordering.
       */
      readonly at?: number
    }
  | { readonly ok: false; readonly reason: SkipReason }

/** What a signature covers: the record's fields in a fixed order, as JSON. */
const signedPayload = (fields: readonly unknown[]): string => JSON.stringify(fields)

const hmac = (secret: string, payload: string): Buffer =>
  createHmac('sha256', secret).update(payload).digest()

/** Encodes one record, signed when given a secret. The caller guarantees the limits (see `publish`). */
export const encodeRecord = (
  invalidation: Invalidation,
  at: number,
  secret?: string,
): Uint8Array => {
  const fields = [RECORD_VERSION, invalidation.keys, invalidation.prefixes, invalidation.all, at]
  return new TextEncoder().encode(
    JSON.stringify({
      v: RECORD_VERSION,
      keys: invalidation.keys,
      prefixes: invalidation.prefixes,
      all: invalidation.all,
      at,
      ...(secret === undefined
        ? {}
        : { sig: hmac(secret, signedPayload(fields)).toString('base64url') }),
    }),
  )
}

/** Whether `record` carries a signature one of `secrets` made; compared in constant time. */
const verified = (record: Record<string, unknown>, secrets: readonly string[]): boolean => {
  const sig = record.sig
  if (typeof sig !== 'string') return false
  const given = Buffer.from(sig, 'base64url')
  const payload = signedPayload([record.v, record.keys, record.prefixes, record.all, record.at])
  return secrets.some((secret) => {
    const expected = hmac(secret, payload)
    return given.length === expected.length && timingSafeEqual(given, expected)
  })
}

/** Why `key` is not a valid cache key, or undefined when it is. */
export const keyProblem = (key: unknown): string | undefined => {
  if (typeof key !== 'string') return `must be a string (got ${typeof key})`
  if (key.length === 0) return 'must not be empty'
  if (key.length > recordLimits.maxKeyLength)
    return `must be at most ${recordLimits.maxKeyLength} characters (got ${key.length})`
  return undefined
}

const utf8 = new TextDecoder('utf-8', { fatal: true })
const skip = (reason: SkipReason): DecodeResult => ({ ok: false, reason })
const has = (object: object, field: string): boolean => Object.hasOwn(object, field)

/**
 * Decodes one record's data; with `secrets`, only records signed with one of them are accepted
 * (several, so that a secret can be rotated). Never throws: anything that is not a valid record comes back as
 * `{ ok: false, reason }` for the caller to count and move past. Work is linear in the size of
 * the record, which Kinesis caps at 1 MiB.
 */
export const decodeRecord = (data: Uint8Array, secrets: readonly string[] = []): DecodeResult => {
  if (data.byteLength > recordLimits.maxRecordBytes) return skip('too-large')
  let text: string
  try {
    text = utf8.decode(data)
  } catch {
    return skip('not-utf8')
  }
  let parsed: unknown
  try {
    // JSON.parse creates `__proto__` as an own data property, so no prototype is touched.
    parsed = JSON.parse(text)
  } catch {
    return skip('not-json')
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return skip('not-an-object')
  }
  const record = parsed as Record<string, unknown>
  const version = has(record, 'v') ? record.v : undefined
  if (typeof version !== 'number' || !Number.isInteger(version) || version < 1) {
    return skip('bad-version')
  }
  // A reader with secrets applies nothing unsigned: not even a newer writer's invalidate-all.
  if (secrets.length > 0) {
    if (!has(record, 'sig')) return skip('unsigned')
    if (!verified(record, secrets)) return skip('bad-signature')
  }
  if (version > RECORD_VERSION) {
    // A newer writer meant to invalidate something we cannot interpret: evicting everything keeps
    // the no-lost-invalidation promise at the price of a refill.
    return {
      ok: true,
      invalidation: { keys: [], prefixes: [], all: true },
      droppedEntries: 0,
      futureVersion: true,
    }
  }
  const keys = has(record, 'keys') ? record.keys : []
  const prefixes = has(record, 'prefixes') ? record.prefixes : []
  const all = has(record, 'all') ? record.all : false
  if (!Array.isArray(keys) || !Array.isArray(prefixes) || typeof all !== 'boolean') {
    return skip('bad-field')
  }
  if (keys.length + prefixes.length > recordLimits.maxKeysPerRecord) return skip('too-large')
  let droppedEntries = 0
  const validKeys: string[] = []
  for (const key of keys) {
    if (keyProblem(key) === undefined) validKeys.push(key as string)
    else droppedEntries++
  }
  const validPrefixes: string[] = []
  for (const prefix of prefixes) {
    if (keyProblem(prefix) === undefined) validPrefixes.push(prefix as string)
    else droppedEntries++
  }
  if (!all && validKeys.length === 0 && validPrefixes.length === 0) return skip('empty')
  const at = has(record, 'at') ? record.at : undefined
  return {
    ok: true,
    invalidation: { keys: validKeys, prefixes: validPrefixes, all },
    droppedEntries,
    futureVersion: false,
    ...(typeof at === 'number' && Number.isFinite(at) ? { at } : {}),
  }
}

/** One record as a decoder sees it: its bytes, and its JSON, parsed at most once. */
export interface EncodedRecord {
  readonly data: Uint8Array
  /** The data parsed as UTF-8 JSON, or undefined when it is not JSON (or over the size cap). */
  json(): unknown
}

/**
 * Turns records of some format into invalidations. `decode` returns undefined for a record that
 * is not in its format, so that the next decoder (and last, scache's own) gets it. It must treat
 * the record as untrusted; if it throws, the record is skipped and counted (`decoder-error`).
 */
export interface RecordDecoder {
  readonly name: string
  decode(record: EncodedRecord): DecodeResult | undefined
}

const lazyJson = (data: Uint8Array): (() => unknown) => {
  let parsed: { value: unknown } | undefined
  return () => {
    if (parsed === undefined) {
      parsed = { value: undefined }
      if (data.byteLength <= recordLimits.maxRecordBytes) {
        try {
          parsed.value = JSON.parse(utf8.decode(data))
        } catch {
          // Not UTF-8 JSON: no JSON decoder claims it.
        }
      }
    }
    return parsed.value
  }
}

/** A record's bytes as decoders see them; its JSON is parsed on first use, then shared. */
export const encodedRecord = (data: Uint8Array): EncodedRecord => ({ data, json: lazyJson(data) })

/**
 * Decodes one record with the given decoders, in order, then scache's own format. Never throws.
 */
export const decodeWith = (
  decoders: readonly RecordDecoder[],
  data: Uint8Array,
  secrets: readonly string[] = [],
): DecodeResult => decodeEncoded(decoders, encodedRecord(data), secrets)

/** `decodeWith` for a record already wrapped, so that its JSON is parsed once for everyone. */
export const decodeEncoded = (
  decoders: readonly RecordDecoder[],
  record: EncodedRecord,
  secrets: readonly string[] = [],
): DecodeResult => {
  for (const decoder of decoders) {
    let result: DecodeResult | undefined
    try {
      result = decoder.decode(record)
    } catch {
      return skip('decoder-error')
    }
    if (result !== undefined) return result
  }
  return decodeRecord(record.data, secrets)
}
