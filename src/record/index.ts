import { createHmac, timingSafeEqual } from 'node:crypto'
import { patternProblem } from './pattern.js'

/**
 * The invalidation record: scache's wire format on the stream, shared by the publisher (encode)
 * and the stream reader (decode). Every record read is untrusted input: anyone allowed to
 * PutRecord on the stream can write one.
 *
 * `{"v":1,"keys":["users:42"],"prefixes":["orders:"],"all":false,"at":1763700000000}`
 *
 * Signed with a shared secret, it also carries `"sig"`: the HMAC-SHA256 (base64url) of
 * `[v, keys, prefixes, all, at]` as JSON, which a reader recomputes from the fields it parsed.
 *
 * A record with tags or patterns is version 3 (`TAGGED_RECORD_VERSION`), so that a reader that
 * does not know them evicts everything instead of missing them (see `decodeRecord`).
 */

export const RECORD_VERSION = 1

/** Limits every record must respect; the publisher splits work so that it never exceeds them. */
export const recordLimits = {
  /**
   * Largest record the publisher writes: Kinesis' default record limit is 1 MiB, data plus
   * partition key (a stream's limit can be raised to 10 MiB, never lowered).
   */
  maxRecordBytes: 1_048_576 - 256,
  /**
   * Largest record a reader reads: the most data Kinesis can deliver in one record (10 MiB, on a
   * stream whose record limit was raised). Parsing is linear in it; see `maxDepth`.
   */
  maxReadBytes: 10 * 1_048_576,
  /**
   * Deepest nesting of arrays and objects a reader parses, checked by a scan before `JSON.parse`:
   * deep nesting costs parsing far more than its size suggests, and overflows the stack of
   * anything recursive (`JSON.stringify`). scache's own records nest 2 deep; a DynamoDB change
   * record, whose items nest up to 32 levels (2 JSON levels each), about 70.
   */
  maxDepth: 128,
  maxKeysPerRecord: 10_000,
  /** In UTF-16 code units, as `string.length`; also the longest key the cache accepts. */
  maxKeyLength: 1_024,
  /** Longest tag, in UTF-16 code units; also the longest the cache accepts (as Next.js). */
  maxTagLength: 256,
  /** Most tags one entry may carry (as Next.js). */
  maxTagsPerEntry: 128,
  /**
   * Most keys one record's patterns may test, summed over its patterns; past it, a pattern evicts
   * every key starting with its literal prefix (the text before its first `*`), or everything
   * when it starts with `*`. Bounds the work of one record whatever the cache holds.
   */
  maxPatternCandidates: 10_000,
} as const

/**
 * Signed records: a signature made at `at` is accepted only if the record arrived in Kinesis
 * (`ApproximateArrivalTimestamp`) at most `maxAgeMs` later, or at most `aheadMs` earlier (the
 * writer's clock running ahead of Kinesis'). A copy put again later is refused. The publisher's
 * budget (`timeoutMs`, at most 30 s) keeps its own retries inside the window.
 */
export const signedRecordWindow = { maxAgeMs: 60_000, aheadMs: 30_000 } as const

/** Version of signed records whose signature covers the stream they were written to. */
export const BOUND_RECORD_VERSION = 2

/**
 * Version of records with tags or patterns. Readers of versions 1 and 2 read it as a newer
 * writer's and evict everything; signed, such a record carries two signatures: `sig`, over the
 * fields those readers check (so that they accept it, and clear), and `sig3`, over every field,
 * which readers of version 3 check.
 */
export const TAGGED_RECORD_VERSION = 3

/** What one record asks readers to evict. */
export interface Invalidation {
  readonly keys: readonly string[]
  readonly prefixes: readonly string[]
  readonly all: boolean
  /** Evict every entry stored with one of these tags (surrogate keys). Record version 3. */
  readonly tags?: readonly string[]
  /** Evict every key matching one of these patterns (`users:*:profile`). Record version 3. */
  readonly patterns?: readonly string[]
}

/** Whether an invalidation has tags or patterns: only a version 3 record can carry it. */
export const hasTagsOrPatterns = (invalidation: Invalidation): boolean =>
  (invalidation.tags?.length ?? 0) > 0 || (invalidation.patterns?.length ?? 0) > 0

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
  /** The record's signature matches none of the reader's secrets: forged, altered, or another stream's. */
  | 'bad-signature'
  /**
   * A signed record whose `at` is outside the window around its arrival (`signedRecordWindow`):
   * a copy put again, or a writer whose clock is far off.
   */
  | 'stale'
  /** Nested deeper than `recordLimits.maxDepth`, and the reader requires signed records. */
  | 'too-deep'
  /** Decoding failed in a way no check foresaw (it never throws; this is what it says instead). */
  | 'decode-error'
  /** Applying the record's invalidation threw. */
  | 'apply-error'

/**
 * Why a record that may be an invalidation could not be read within the reader's bounds. Its
 * invalidation cannot be known, so it is applied as invalidate-all: nothing is lost.
 */
export type UnreadableReason = 'too-large' | 'too-deep' | 'too-many-keys'

export type DecodeResult =
  | {
      readonly ok: true
      readonly invalidation: Invalidation
      /**
       * Entries of `keys`/`prefixes` dropped because they were not valid keys, and of
       * `tags`/`patterns` because they were not valid tags or patterns.
       */
      readonly droppedEntries: number
      /** The record came from a newer writer; it is applied as invalidate-all, which is always safe. */
      readonly futureVersion: boolean
      /**
       * When the producer made the change, ms since the epoch, if the record says: a scache
       * record's `at`, a DynamoDB change's creation time. Untrusted, so for display and delay
       * measurements only, never for ordering.
       */
      readonly at?: number
      /** The record could not be read within the bounds, so it stands for invalidate-all. */
      readonly unreadable?: UnreadableReason
    }
  | { readonly ok: false; readonly reason: SkipReason }

/** What a signature covers: the record's fields in a fixed order, as JSON. */
const signedPayload = (fields: readonly unknown[]): string => JSON.stringify(fields)

/**
 * The stream name a signature is bound to: the name itself, or the name in an ARN
 * (`arn:aws:kinesis:region:account:stream/name`), so that a publisher given the name and a reader
 * given the ARN agree. Account and region are not bound: use a secret per account and region.
 */
export const signedStreamName = (stream: string): string => {
  if (!stream.startsWith('arn:')) return stream
  const at = stream.indexOf(':stream/')
  return at === -1 ? stream : stream.slice(at + ':stream/'.length)
}

/** Where and when a record was read: what a signature is checked against. */
export interface RecordContext {
  /** The stream the record was read from (name or ARN). Needed to verify version 2 signatures. */
  readonly stream?: string
  /** When Kinesis received the record, ms since the epoch. Signed records are checked against it. */
  readonly arrivedAt?: number
}

const hmac = (secret: string, payload: string): Buffer =>
  createHmac('sha256', secret).update(payload).digest()

/**
 * Encodes one record, signed when given a secret. The caller guarantees the limits (see `publish`).
 * Signed for `stream`, it is a version 2 record whose signature also covers the stream's name;
 * without it, a version 1 signature, which any stream sharing the secret accepts (the publisher
 * always gives the stream).
 */
export const encodeRecord = (
  invalidation: Invalidation,
  at: number,
  secret?: string,
  stream?: string,
): Uint8Array => {
  if (hasTagsOrPatterns(invalidation)) return encodeTagged(invalidation, at, secret, stream)
  const bound = secret !== undefined && stream !== undefined
  const version = bound ? BOUND_RECORD_VERSION : RECORD_VERSION
  const fields = bound
    ? [
        version,
        signedStreamName(stream),
        invalidation.keys,
        invalidation.prefixes,
        invalidation.all,
        at,
      ]
    : [version, invalidation.keys, invalidation.prefixes, invalidation.all, at]
  return new TextEncoder().encode(
    JSON.stringify({
      v: version,
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

/** What a version 3 record's `sig3` covers: every field, the stream included. */
const taggedFields = (
  stream: string,
  record: { readonly [field: string]: unknown },
): readonly unknown[] => [
  TAGGED_RECORD_VERSION,
  signedStreamName(stream),
  record.keys,
  record.prefixes,
  record.tags,
  record.patterns,
  record.all,
  record.at,
]

/** A version 3 record: tags or patterns. Signed, it needs the stream (both signatures cover it). */
const encodeTagged = (
  invalidation: Invalidation,
  at: number,
  secret: string | undefined,
  stream: string | undefined,
): Uint8Array => {
  const record = {
    v: TAGGED_RECORD_VERSION,
    keys: invalidation.keys,
    prefixes: invalidation.prefixes,
    tags: invalidation.tags ?? [],
    patterns: invalidation.patterns ?? [],
    all: invalidation.all,
    at,
  }
  if (secret === undefined) return new TextEncoder().encode(JSON.stringify(record))
  if (stream === undefined)
    throw new TypeError('encodeRecord: a signed record with tags or patterns needs its stream')
  // `sig` is what readers of versions 1 and 2 verify before they see the version: with it they
  // accept the record and evict everything. It does not cover tags or patterns; `sig3` does.
  const legacy = [
    TAGGED_RECORD_VERSION,
    signedStreamName(stream),
    record.keys,
    record.prefixes,
    record.all,
    at,
  ]
  return new TextEncoder().encode(
    JSON.stringify({
      ...record,
      sig: hmac(secret, signedPayload(legacy)).toString('base64url'),
      sig3: hmac(secret, signedPayload(taggedFields(stream, record))).toString('base64url'),
    }),
  )
}

/**
 * Whether `record` carries a signature one of `secrets` made; compared in constant time. From
 * version 2 on, the signature covers the stream too, so a record copied to another stream that
 * shares the secret (a replica, another environment) does not verify there.
 */
const verified = (
  record: Record<string, unknown>,
  secrets: readonly string[],
  stream: string | undefined,
): boolean => {
  const version = record.v as number
  // Version 3 is checked by `sig3`, over every field; `sig` leaves tags and patterns out.
  const sig = version === TAGGED_RECORD_VERSION ? record.sig3 : record.sig
  if (typeof sig !== 'string') return false
  if (version >= BOUND_RECORD_VERSION && stream === undefined) return false
  const given = Buffer.from(sig, 'base64url')
  const payload = signedPayload(
    version === TAGGED_RECORD_VERSION
      ? taggedFields(stream as string, record)
      : version >= BOUND_RECORD_VERSION
        ? [
            version,
            signedStreamName(stream as string),
            record.keys,
            record.prefixes,
            record.all,
            record.at,
          ]
        : [version, record.keys, record.prefixes, record.all, record.at],
  )
  return secrets.some((secret) => {
    const expected = hmac(secret, payload)
    return given.length === expected.length && timingSafeEqual(given, expected)
  })
}

/** Why `tag` is not a valid tag (1 to 256 characters), or undefined when it is. */
export const tagProblem = (tag: unknown): string | undefined => {
  if (typeof tag !== 'string') return `must be a string (got ${typeof tag})`
  if (tag.length === 0) return 'must not be empty'
  if (tag.length > recordLimits.maxTagLength)
    return `must be at most ${recordLimits.maxTagLength} characters (got ${tag.length})`
  return undefined
}

/** Why `key` is not a valid cache key, or undefined when it is. */
export const keyProblem = (key: unknown): string | undefined => {
  if (typeof key !== 'string') return `must be a string (got ${typeof key})`
  if (key.length === 0) return 'must not be empty'
  if (key.length > recordLimits.maxKeyLength)
    return `must be at most ${recordLimits.maxKeyLength} characters (got ${key.length})`
  return undefined
}

/** Whether a signed record's `at` lies in the window around its arrival (`signedRecordWindow`). */
const fresh = (at: unknown, arrivedAt: number): boolean =>
  typeof at === 'number' &&
  at >= arrivedAt - signedRecordWindow.maxAgeMs &&
  at <= arrivedAt + signedRecordWindow.aheadMs

const utf8 = new TextDecoder('utf-8', { fatal: true })
const skip = (reason: SkipReason): DecodeResult => ({ ok: false, reason })
const has = (object: object, field: string): boolean => Object.hasOwn(object, field)

const OPEN_BRACKET = 0x5b
const CLOSE_BRACKET = 0x5d
const OPEN_BRACE = 0x7b
const CLOSE_BRACE = 0x7d
const QUOTE = 0x22
const BACKSLASH = 0x5c

/**
 * Whether the arrays and objects in JSON `data` nest at most `maxDepth` deep: one pass over the
 * bytes, skipping strings (in UTF-8 no byte of a multi-byte character is ASCII). Malformed JSON is
 * JSON.parse's to reject; this only bounds what it will be given.
 */
export const withinDepth = (data: Uint8Array, maxDepth: number): boolean => {
  let depth = 0
  let inString = false
  for (let i = 0; i < data.length; i++) {
    const byte = data[i]
    if (inString) {
      if (byte === BACKSLASH) i++
      else if (byte === QUOTE) inString = false
    } else if (byte === QUOTE) inString = true
    else if (byte === OPEN_BRACKET || byte === OPEN_BRACE) {
      if (++depth > maxDepth) return false
    } else if (byte === CLOSE_BRACKET || byte === CLOSE_BRACE) depth--
  }
  return true
}

const readProblems = new WeakMap<Uint8Array, UnreadableReason | null>()

/** Why `data` cannot be parsed within the bounds (size, then depth), or undefined; memoized. */
const readProblem = (data: Uint8Array): UnreadableReason | undefined => {
  let problem = readProblems.get(data)
  if (problem === undefined) {
    problem =
      data.byteLength > recordLimits.maxReadBytes
        ? 'too-large'
        : withinDepth(data, recordLimits.maxDepth)
          ? null
          : 'too-deep'
    readProblems.set(data, problem)
  }
  return problem ?? undefined
}

const INVALIDATE_ALL: Invalidation = { keys: [], prefixes: [], all: true }

/**
 * A record that may be an invalidation but cannot be read: applied as invalidate-all, so that its
 * invalidation is not lost. Only a reader that accepts nothing but signed scache records (secrets,
 * no decoders) skips it: a signed record is flat and small, so this one cannot be signed.
 */
const unreadable = (reason: UnreadableReason, signedOnly: boolean): DecodeResult =>
  signedOnly
    ? skip(reason === 'too-deep' ? 'too-deep' : 'too-large')
    : {
        ok: true,
        invalidation: INVALIDATE_ALL,
        droppedEntries: 0,
        futureVersion: false,
        unreadable: reason,
      }

/**
 * Decodes one record's data; with `secrets`, only records signed with one of them are accepted
 * (several, so that a secret can be rotated), for `context.stream`, and, given
 * `context.arrivedAt`, only within `signedRecordWindow` of their `at`. Never throws: anything that
 * is not a valid record comes back as `{ ok: false, reason }` for the caller to count and move
 * past. Work is linear in the size of the record: size and nesting are bounded before parsing
 * (`recordLimits`), and a record over those bounds, which might be an invalidation, is applied as
 * invalidate-all (`unreadable`) unless only signed records are accepted.
 */
export const decodeRecord = (
  data: Uint8Array,
  secrets: readonly string[] = [],
  context: RecordContext = {},
): DecodeResult => {
  const problem = readProblem(data)
  if (problem !== undefined) return unreadable(problem, secrets.length > 0)
  try {
    return decodeReadable(data, secrets, context)
  } catch {
    return skip('decode-error')
  }
}

const decodeReadable = (
  data: Uint8Array,
  secrets: readonly string[],
  context: RecordContext,
): DecodeResult => {
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
    if (!verified(record, secrets, context.stream)) return skip('bad-signature')
    // A genuine record put again later (by anyone allowed to PutRecord) is refused by its age.
    if (context.arrivedAt !== undefined && !fresh(record.at, context.arrivedAt))
      return skip('stale')
  }
  if (version > TAGGED_RECORD_VERSION) {
    // A newer writer meant to invalidate something we cannot interpret: evicting everything keeps
    // the no-lost-invalidation promise at the price of a refill.
    return {
      ok: true,
      invalidation: INVALIDATE_ALL,
      droppedEntries: 0,
      futureVersion: true,
    }
  }
  const keys = has(record, 'keys') ? record.keys : []
  const prefixes = has(record, 'prefixes') ? record.prefixes : []
  const all = has(record, 'all') ? record.all : false
  // Tags and patterns exist from version 3 on; in an older record they mean nothing.
  const tagged = version === TAGGED_RECORD_VERSION
  const tags = tagged && has(record, 'tags') ? record.tags : []
  const patterns = tagged && has(record, 'patterns') ? record.patterns : []
  if (
    !Array.isArray(keys) ||
    !Array.isArray(prefixes) ||
    !Array.isArray(tags) ||
    !Array.isArray(patterns) ||
    typeof all !== 'boolean'
  ) {
    return skip('bad-field')
  }
  // More than a record may hold is still an invalidation: too costly to apply key by key.
  if (keys.length + prefixes.length + tags.length + patterns.length > recordLimits.maxKeysPerRecord)
    return unreadable('too-many-keys', false)
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
  // An invalid tag or pattern is on no entry and matches no key a writer could store: dropping it
  // loses nothing.
  const validTags: string[] = []
  for (const tag of tags) {
    if (tagProblem(tag) === undefined) validTags.push(tag as string)
    else droppedEntries++
  }
  const validPatterns: string[] = []
  for (const pattern of patterns) {
    if (patternProblem(pattern) === undefined) validPatterns.push(pattern as string)
    else droppedEntries++
  }
  if (
    !all &&
    validKeys.length === 0 &&
    validPrefixes.length === 0 &&
    validTags.length === 0 &&
    validPatterns.length === 0
  )
    return skip('empty')
  const at = has(record, 'at') ? record.at : undefined
  return {
    ok: true,
    invalidation: tagged
      ? { keys: validKeys, prefixes: validPrefixes, all, tags: validTags, patterns: validPatterns }
      : { keys: validKeys, prefixes: validPrefixes, all },
    droppedEntries,
    futureVersion: false,
    ...(typeof at === 'number' && Number.isFinite(at) ? { at } : {}),
  }
}

/** One record as a decoder sees it: its bytes, and its JSON, parsed at most once. */
export interface EncodedRecord {
  readonly data: Uint8Array
  /** The data parsed as UTF-8 JSON, or undefined when it is not JSON (or over the bounds). */
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
      if (readProblem(data) === undefined) {
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
  context: RecordContext = {},
): DecodeResult => decodeEncoded(decoders, encodedRecord(data), secrets, context)

/** `decodeWith` for a record already wrapped, so that its JSON is parsed once for everyone. */
export const decodeEncoded = (
  decoders: readonly RecordDecoder[],
  record: EncodedRecord,
  secrets: readonly string[] = [],
  context: RecordContext = {},
): DecodeResult => {
  // A record too large or too deep for any decoder might have been one of theirs: unless the
  // reader takes nothing but signed scache records, it stands for invalidate-all.
  const problem = readProblem(record.data)
  if (problem !== undefined) return unreadable(problem, decoders.length === 0 && secrets.length > 0)
  for (const decoder of decoders) {
    let result: DecodeResult | undefined
    try {
      result = decoder.decode(record)
    } catch {
      return skip('decoder-error')
    }
    if (result !== undefined) return result
  }
  return decodeRecord(record.data, secrets, context)
}
