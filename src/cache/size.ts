import { types } from 'node:util'
import { ScacheOptionsError } from '../errors.js'
import { describe, isObject, onlyKnown } from '../validate.js'

/**
 * Fixed cost of one entry beyond its key's characters and its value, on V8 64-bit (Node's builds
 * do not compress pointers: 8-byte slots): the entry wrapper `{ value, costMs, expiresAt, tags,
 * recency }` (64), the heap number of its expiry (16), its share of two hash maps, lru-cache's
 * key map and the cache's map of entries that a hit reads (28 bytes a slot, between one and two
 * slots an entry as a table fills and doubles: 40 counted each), and the key's string header with
 * a word of alignment or of the cons cell a concatenated key keeps (24). lru-cache's own arrays
 * are allocated when the store is made (see `MAX_ENTRIES`); the key index's slot is counted by
 * the cache.
 */
export const ENTRY_OVERHEAD_BYTES = 184

/** Bytes of an entry's key: a one-byte string takes a byte a character, a two-byte one two. */
export const keyBytes = (key: string): number => (TWO_BYTE.test(key) ? 2 : 1) * key.length

/**
 * Most entries a store may be given. lru-cache allocates its slots when the store is made, about
 * 36 bytes each (24 on the heap, 12 in typed arrays; measured with lru-cache 11.5 on Node 20):
 * 36 MiB at this cap, which a 128 MB function can afford, where 2^30 slots exhaust any heap. A
 * full store holds about `ENTRY_OVERHEAD_BYTES` per entry beyond its slot: 184 MiB more here.
 */
export const MAX_ENTRIES = 1_048_576

/**
 * Most entries all stores together may be given: the cache's map of entries holds every store's,
 * and a V8 `Map` holds at most 2^24 (a 17th store of `MAX_ENTRIES` would make its `set` throw).
 */
export const MAX_TOTAL_ENTRIES = 2 ** 24

/** `value` as a store's `maxEntries`, or a ScacheOptionsError naming `path` and saying why. */
export const maxEntriesOption = (path: string, value: unknown): number => {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > MAX_ENTRIES) {
    throw new ScacheOptionsError(
      path,
      `must be an integer from 1 to ${MAX_ENTRIES}: each entry's slot is allocated when the store is made, about 36 bytes (got ${describe(value)})`,
    )
  }
  return value
}

/** A value with more nodes than this is not sized (nor cached) unless `sizeOf` is given. */
export const MAX_ESTIMATED_NODES = 1_000_000

// Small integers live in the slot that holds them; V8 boxes any other number (31 bits where
// pointers are compressed, 32 where they are not: the smaller range holds for both).
const SMI_MIN = -(2 ** 30)
const SMI_MAX = 2 ** 30 - 1

/** A character outside Latin-1: V8 then stores the whole string at two bytes a character. */
const TWO_BYTE = /[\u0100-\uffff]/

/** V8 allocates in 8-byte words. */
const words = (bytes: number): number => Math.ceil(bytes / 8) * 8

const isSmi = (item: number): boolean =>
  Number.isInteger(item) && item >= SMI_MIN && item <= SMI_MAX && !Object.is(item, -0)

/** Prototypes of the views the estimate sizes by their bytes: typed arrays, `Buffer`, `DataView`. */
const VIEW_PROTOTYPES = new Set<object>(
  [
    Int8Array,
    Uint8Array,
    Uint8ClampedArray,
    Int16Array,
    Uint16Array,
    Int32Array,
    Uint32Array,
    Float32Array,
    Float64Array,
    BigInt64Array,
    BigUint64Array,
    Buffer,
    DataView,
  ].map((type) => type.prototype),
)

/**
 * Key lists already counted: a fast-mode object's hidden class (map, descriptors and key
 * strings), a dictionary-mode object's key strings. V8 shares one hidden class between the
 * objects built with the same keys in the same order (every row JSON.parse decodes from one
 * response shape), and every property key is an internalized string, one copy however many
 * objects have it, so the estimate charges a list once, not per object. Bounded: when full it
 * starts again, and counts each list once more (over, never under).
 */
const knownShapes = new Set<string>()
let knownShapeChars = 0
/** What `knownShapes` may hold, in characters: about 512 KiB. */
const MAX_KNOWN_SHAPE_CHARS = 262_144
/** Lists longer than this are counted in full every time rather than remembered. */
const MAX_SHAPE_KEY_CHARS = 4_096

/**
 * Whether the key list `shape` of this `kind` is counted for the first time (true for a list
 * too long to remember, `undefined`), and remembers it.
 */
const firstSeen = (shape: string | undefined, kind: 'fast' | 'dictionary'): boolean => {
  if (shape === undefined) return true
  const key = `${kind === 'fast' ? 'f' : 'd'}${shape}`
  if (knownShapes.has(key)) return false
  if (knownShapeChars + key.length > MAX_KNOWN_SHAPE_CHARS) {
    knownShapes.clear()
    knownShapeChars = 0
  }
  knownShapes.add(key)
  knownShapeChars += key.length
  return true
}

/**
 * Named properties from which a plain object is counted in dictionary mode. V8 turns an object
 * into a hash table when properties are added one by one through computed keys (`o[k] = v` in a
 * loop, as DynamoDB's `unmarshall` and most row mappers build items) at the 20th, JSON.parse
 * builds one at 128 or more (`JSON_DICTIONARY_PROPERTIES`), and every way at 1,021;
 * `Object.fromEntries`, `Object.assign`, a spread and `structuredClone` stay fast below that.
 * The estimate cannot tell how an object was built, so from 20 it counts the hash table: up to 8
 * times what a fast object of as many properties holds, never less.
 */
export const DICTIONARY_PROPERTIES = 20

/**
 * Named properties from which JSON.parse makes a dictionary-mode object: it takes an object's
 * hidden class from a cache of 128 (one per count of properties), and builds a hash table for
 * more. Integer keys (elements) do not count. Measured on Node 20 and 24: 127 fast, 128 not.
 */
export const JSON_DICTIONARY_PROPERTIES = 128

/**
 * Slots of one of V8's hash tables (dictionary-mode properties, dictionary elements) holding
 * `entries`: the least power of two, 4 or more, with `entries` × 1.5 at most; a table grown by
 * additions and one built whole (JSON.parse) both end there.
 */
const hashSlots = (entries: number): number =>
  Math.max(4, 2 ** Math.ceil(Math.log2(entries + Math.floor(entries / 2))))

/**
 * A dictionary-mode object: the object (24 bytes) and its property table's header (64), then
 * 24-byte slots (key, value, details), as measured on Node 20 and 24 from 0 to 300 properties.
 */
const dictionaryBytes = (properties: number): number => 88 + 24 * hashSlots(properties)

/**
 * An object's integer-keyed properties (its elements, `maxIndex` the highest): a flat store of
 * 8-byte slots up to the highest index, holes included, or, where those would be more than
 * three times a hash table's words (as JSON.parse decides: ids as keys, `{"1001": …}`), a hash
 * table of 24-byte slots and a 48-byte header.
 */
const elementsBytes = (elements: number, maxIndex: number): number => {
  const slots = hashSlots(elements)
  return maxIndex + 1 <= 9 * slots ? 16 + 8 * (maxIndex + 1) : 48 + 24 * slots
}

/**
 * Short strings already counted. JSON.parse interns the strings it decodes up to 9 characters
 * (10 on Node 20), so every entry decoded with `"status": "active"` shares one copy; so do the
 * strings `String(n)` returns for a number. A short string built in code (`v${i}`) is a copy of
 * its own, every time: a string this value is the first to show is counted at each occurrence in
 * it (over for JSON.parse, once), one an earlier value showed not again. Bounded like
 * `knownShapes`; a repeat in a later value of a copy built in code goes uncounted (24 or 32
 * bytes).
 */
const knownStrings = new Set<string>()
const MAX_KNOWN_STRINGS = 16_384
const INTERNED_LENGTH = 9

/** How a value was made, as far as V8's layout of it depends on that: see `estimateBytes`. */
export interface EstimateOptions {
  /**
   * How the value was made, when you know: `'json'` for a value JSON.parse decoded (a response
   * body, an item read as JSON), whose plain objects V8 keeps in fast mode below 128 properties
   * and whose arrays have no spare capacity; `'any'` (the default) for a value built in code or
   * of unknown making. A hint, not a check: what JSON cannot make is sized as by default.
   */
  readonly madeBy?: 'any' | 'json'
}

/** Whether `options` say the value was made by JSON.parse; a ScacheOptionsError if not options. */
const madeByJson = (options: EstimateOptions): boolean => {
  if (!isObject(options))
    throw new ScacheOptionsError(
      'estimateBytes',
      `options must be an object (got ${describe(options)})`,
    )
  onlyKnown('', options, ['madeBy'])
  const { madeBy } = options
  if (madeBy !== undefined && madeBy !== 'any' && madeBy !== 'json')
    throw new ScacheOptionsError('madeBy', `must be 'any' or 'json' (got ${describe(madeBy)})`)
  return madeBy === 'json'
}

/**
 * Retained size of a value in bytes as V8 (64-bit, as Node ships it) lays it out, calibrated
 * against the heap (bench/memory-retained.ts: within ±20 % for the shapes there but the four
 * below that no code can see):
 * - a string takes a 16-byte header and a byte a character (two for a string with any character
 *   beyond Latin-1), rounded to 8 bytes; a string of up to 9 characters once across values
 *   (JSON.parse interns those; see `knownStrings`);
 * - a number that is not a small integer a 16-byte heap number (none inside an array of numbers,
 *   which V8 stores unboxed); `true`, `false`, `null`, `undefined` nothing beyond their slot;
 * - a plain object with fewer than 20 properties (`DICTIONARY_PROPERTIES`) 24 bytes and 8 a
 *   property, plus its hidden class once per list of keys (the keys' strings, 40 bytes of
 *   descriptors a key, 104 for the class); one with more, or with a null prototype, as a hash
 *   table (dictionary mode: 88 bytes and 24 a slot, 1.5 to 3 slots a property), its keys once
 *   per list; integer keys in a flat store up to the highest, or a hash table where sparse;
 * - an array 48 bytes and 8 a slot, for `length` + `length` / 8 + 16 slots (the spare capacity
 *   `push` leaves is up to `length` / 2 + 16); `Map` and `Set` by their hash tables; `Date`,
 *   `ArrayBuffer`, typed arrays, `Buffer` and `DataView` by their heap objects and bytes.
 * Every own property counts, symbol-keyed and non-enumerable ones too. Counts shared or cyclic
 * references once.
 *
 * What it cannot see, because no code can: how a value was built. So by default it over-counts
 * an object of 20 to 127 properties that JSON.parse made (fast, up to 8 times less than
 * counted), an array made whole (JSON.parse, `map`, a literal: 16 + `length` / 8 slots less)
 * and a string shared between values (counted in each), and it under-counts an object of fewer
 * than 20 properties that went to dictionary mode by a `delete` (3 to 8 times its estimate),
 * the spare capacity of an array just grown by `push` (up to 1.33 times the slots counted), the
 * larger string a sliced string keeps alive, the buffer behind a view beyond the view's own
 * bytes, and properties added to a typed array. Pass your own `sizeOf` when you know better,
 * or to cache class instances.
 *
 * `options.madeBy: 'json'` says how: the value is what JSON.parse returned. A plain object is
 * then counted in fast mode below 128 named properties (`JSON_DICTIONARY_PROPERTIES`) and as a
 * hash table from 128, an array at exactly its length (32 bytes when empty), strings as by
 * default. It is a hint, not a check: what JSON cannot make (a `Map`, `Set`, `Date`, typed
 * array, symbol, an object with a null prototype) is sized as by default, and an object built
 * through computed keys (20 properties or more) or given many after decoding is a hash table
 * counted as fast, up to 9 times less than it holds. No option helps the `delete` above. Throws a
 * `ScacheOptionsError` for options that are not an object, with another key, or with another
 * `madeBy`. For a cache of decoded values: `sizeOf: (value) => estimateBytes(value, { madeBy:
 * 'json' })`.
 *
 * Returns `Infinity`, so that the cache does not store the value, rather than guess:
 * - for more than a million nodes (checked before a node is expanded: an array's `length` counts
 *   in full, so `a[2 ** 32 - 2] = 1` costs nothing to refuse);
 * - for memory it cannot see: a function (its closure), a getter or setter, a proxy, and any
 *   object other than a plain object (prototype `Object.prototype` or null), an array, `Map`,
 *   `Set`, `Date`, `ArrayBuffer`, typed array, `Buffer` or `DataView`. A class instance may keep
 *   any amount in `#private` fields, which no code outside its class can reach.
 */
export const estimateBytes = (value: unknown, options?: EstimateOptions): number =>
  sizeBytes(value, options !== undefined && madeByJson(options))

/**
 * `estimateBytes` without its options: `json` when the value was made by JSON.parse. The cache's
 * default `sizeOf`, which is called with the key too.
 */
export const sizeBytes = (value: unknown, json: boolean): number => {
  const seen = new Set<object>()
  /** Short strings this value brought to `knownStrings`: a repeat of one here may be a copy. */
  let introduced: Set<string> | undefined
  const stack: unknown[] = [value]
  let bytes = 0
  let nodes = 0
  const dictionaryFrom = json ? JSON_DICTIONARY_PROPERTIES : DICTIONARY_PROPERTIES
  /**
   * Pushes the values of an object's own properties, every one (symbol-keyed and non-enumerable
   * too), and counts the object with its properties and elements as V8 lays them out: `layout`
   * 'plain' for an object whose prototype is `Object.prototype` (fast or dictionary mode by its
   * count of properties), 'dictionary' for one V8 always keeps as a hash table (null prototype),
   * 'extras' for the own properties of a built-in (the built-in itself counted by the caller;
   * `isElement` then names the keys the caller counted). Returns false when it cannot size them:
   * too many, or an accessor.
   */
  const pushProperties = (
    object: object,
    isElement: (key: string) => boolean,
    layout: 'plain' | 'dictionary' | 'extras',
  ): boolean => {
    const keys = Reflect.ownKeys(object)
    if (nodes + stack.length + keys.length > MAX_ESTIMATED_NODES) return false
    let properties = 0
    let elements = 0
    let maxIndex = -1
    let keyChars = 0
    // The key list, while it stays short enough to remember.
    let shape: string | undefined = ''
    for (const key of keys) {
      const descriptor = Object.getOwnPropertyDescriptor(object, key)
      // An accessor's value lives in its closure, out of sight; reading it would run user code.
      if (descriptor === undefined || !('value' in descriptor)) return false
      if (typeof key === 'string' && isElement(key)) {
        if (layout !== 'extras') {
          elements++
          maxIndex = Math.max(maxIndex, Number(key))
          stack.push(descriptor.value)
        } else if (key !== 'length') stack.push(descriptor.value)
        continue
      }
      properties++
      stack.push(descriptor.value)
      if (typeof key === 'symbol') {
        // Its description is not part of a key list this can remember.
        keyChars += 32
        shape = undefined
        continue
      }
      keyChars += stringBytes(key)
      if (shape !== undefined) {
        shape = shape.length + key.length < MAX_SHAPE_KEY_CHARS ? `${shape}${key}\u0000` : undefined
      }
    }
    if (elements > 0) bytes += elementsBytes(elements, maxIndex)
    if (layout === 'plain' && properties < dictionaryFrom) {
      // In-object fields: the object (24 bytes: hidden class, properties, elements) and a slot a
      // property; the hidden class (104), its descriptors (40 a key) and its keys once per list.
      bytes += 24 + 8 * properties
      if (!firstSeen(shape, 'fast')) return true
      bytes += 104 + 40 * properties + keyChars
      return true
    }
    if (layout === 'extras' && properties === 0) return true
    // A hash table: the object and its table's header, 24 bytes a slot. Its key strings are
    // internalized, shared by every object that has them: once per list, like a hidden class's.
    bytes += dictionaryBytes(properties)
    if (firstSeen(shape, 'dictionary')) bytes += keyChars
    return true
  }
  while (stack.length > 0) {
    if (nodes >= MAX_ESTIMATED_NODES) return Number.POSITIVE_INFINITY
    const item = stack.pop()
    nodes++
    switch (typeof item) {
      case 'string':
        if (item.length <= INTERNED_LENGTH && !introduced?.has(item)) {
          if (knownStrings.has(item)) continue
          if (knownStrings.size >= MAX_KNOWN_STRINGS) knownStrings.clear()
          knownStrings.add(item)
          introduced ??= new Set()
          introduced.add(item)
        }
        bytes += stringBytes(item)
        continue
      case 'number':
        if (!isSmi(item)) bytes += 16
        continue
      case 'bigint': {
        // A 16-byte header and a 64-bit word per 16 hex digits of magnitude.
        const digits = (item < 0n ? -item : item).toString(16).length
        bytes += 16 + 8 * Math.ceil(digits / 16)
        continue
      }
      case 'symbol':
        // A symbol keeps its description alive.
        bytes += 32 + words(16 + (item.description?.length ?? 0) * 2)
        continue
      case 'boolean':
      case 'undefined':
        continue
      case 'function':
        return Number.POSITIVE_INFINITY
    }
    if (item === null || seen.has(item as object)) continue
    const object = item as object
    seen.add(object)
    if (types.isProxy(object)) return Number.POSITIVE_INFINITY
    const prototype: unknown = Object.getPrototypeOf(object)
    if (Array.isArray(object)) {
      if (prototype !== Array.prototype) return Number.POSITIVE_INFINITY
      // Bounded before anything is expanded: a sparse array's length is not its memory, but it
      // is the work of walking it and the size of the store V8 may allocate for it.
      const length = object.length
      if (nodes + stack.length + length > MAX_ESTIMATED_NODES) return Number.POSITIVE_INFINITY
      // Header (32) and backing store header (16), and its slots: exactly `length` for an array
      // JSON.parse, `map` or a literal made (an empty one shares V8's empty store), up to
      // n + n/2 + 16 for one grown by `push`.
      if (json) bytes += length === 0 ? 32 : 48 + 8 * length
      else bytes += 48 + 8 * (length + Math.floor(length / 8) + 16)
      const mark = stack.length
      // Elements, and any other property, are own properties; only `length` is not data.
      if (!pushProperties(object, isArrayElement, 'extras')) return Number.POSITIVE_INFINITY
      // An array of numbers only keeps them unboxed, in its slots (double elements).
      let numbers = true
      for (let i = mark; i < stack.length && numbers; i++) numbers = typeof stack[i] === 'number'
      if (numbers) {
        nodes += stack.length - mark
        stack.length = mark
      }
      continue
    }
    if (prototype !== null && VIEW_PROTOTYPES.has(prototype as object)) {
      // The view and its buffer object on the heap; the bytes themselves (off the heap past 64).
      bytes += 176 + (object as ArrayBufferView).byteLength
      continue
    }
    let sized = true
    if (prototype === ArrayBuffer.prototype || prototype === SharedArrayBuffer.prototype) {
      bytes += 128 + (object as ArrayBuffer).byteLength
      sized = pushProperties(object, none, 'extras')
    } else if (prototype === Date.prototype) {
      bytes += 112
      sized = pushProperties(object, none, 'extras')
    } else if (prototype === Map.prototype) {
      const map = object as Map<unknown, unknown>
      if (nodes + stack.length + 2 * map.size > MAX_ESTIMATED_NODES) return Number.POSITIVE_INFINITY
      // An ordered hash table: 28 bytes a slot, a power of two at least the entries (4 or more).
      bytes += 72 + 28 * slotsFor(map.size, 4)
      for (const [k, v] of map) {
        if (isShortString(k)) bytes += stringBytes(k)
        else stack.push(k)
        if (isShortString(v)) bytes += stringBytes(v)
        else stack.push(v)
      }
      sized = pushProperties(object, none, 'extras')
    } else if (prototype === Set.prototype) {
      const set = object as Set<unknown>
      if (nodes + stack.length + set.size > MAX_ESTIMATED_NODES) return Number.POSITIVE_INFINITY
      bytes += 72 + 20 * slotsFor(set.size, 8)
      for (const v of set) {
        if (isShortString(v)) bytes += stringBytes(v)
        else stack.push(v)
      }
      sized = pushProperties(object, none, 'extras')
    } else if (prototype === Object.prototype) {
      sized = pushProperties(object, isIndex, 'plain')
    } else if (prototype === null) {
      // V8 makes an object with a null prototype in dictionary mode.
      sized = pushProperties(object, isIndex, 'dictionary')
    } else {
      // A class instance (or another built-in): its `#private` fields cannot be seen from here.
      return Number.POSITIVE_INFINITY
    }
    if (!sized) return Number.POSITIVE_INFINITY
  }
  return bytes
}

/** A string's bytes: a 16-byte header, then one or two bytes a character, in whole words. */
const stringBytes = (item: string): number =>
  words(16 + (TWO_BYTE.test(item) ? 2 : 1) * item.length)

/**
 * A short string in a `Map` or `Set`: JSON.parse makes neither, so such a string was built in
 * code, a copy of its own, which `knownStrings` must not count only once.
 */
const isShortString = (item: unknown): item is string =>
  typeof item === 'string' && item.length <= INTERNED_LENGTH

/** A hash table's slots for `size` entries: a power of two, at least `least`. */
const slotsFor = (size: number, least: number): number =>
  size <= least ? least : 2 ** Math.ceil(Math.log2(size))

/** For `pushProperties`: no property is an element. */
const none = (): boolean => false
/** An array index: what V8 keeps in an object's or array's elements, not its properties. */
const isIndex = (key: string): boolean => {
  const index = Number(key)
  return Number.isInteger(index) && index >= 0 && index < 2 ** 32 - 1 && String(index) === key
}
/** An array's elements (their slots are counted with the array) and `length`. */
const isArrayElement = (key: string): boolean => key === 'length' || isIndex(key)
