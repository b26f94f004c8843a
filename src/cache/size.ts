import { types } from 'node:util'
import { ScacheOptionsError } from '../errors.js'
import { describe } from '../validate.js'

/**
 * Fixed cost of one entry beyond its key's characters and its value: the entry wrapper (up to
 * 56 bytes, plus 16-byte heap numbers for its expiry and a fractional load cost),
 * its slot in lru-cache's key map (28 bytes, up to 56 while the table is half empty after it
 * doubles) and the key string's header, alignment, or the cons cell of a key built by
 * concatenation (up to 48).
 */
export const ENTRY_OVERHEAD_BYTES = 208

/**
 * Most entries a store may be given. lru-cache allocates its slots when the store is made, about
 * 36 bytes each (24 on the heap, 12 in typed arrays; measured with lru-cache 11.5 on Node 20):
 * 36 MiB at this cap, which a 128 MB function can afford, where 2^30 slots exhaust any heap. A
 * full store holds at least `ENTRY_OVERHEAD_BYTES` per entry beyond its slot: 200+ MiB here.
 */
export const MAX_ENTRIES = 1_048_576

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

/** V8 allocates in 8-byte words. */
const words = (bytes: number): number => Math.ceil(bytes / 8) * 8

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
 * Rough retained size of a value in bytes, an upper bound on how V8 (64-bit) lays it out: a
 * string takes 2 bytes per character (one-byte strings take half) plus a 16-byte header, a
 * fractional or large number a 16-byte heap number; an object is sized as if its properties
 * were in a hash table (dictionary mode: wide objects built property by property, objects with
 * a null prototype), up to 72 bytes a property, an array with the spare capacity `push` leaves
 * (all `length` slots, however sparse). Every own property counts, symbol-keyed and
 * non-enumerable ones too. Counts shared or cyclic references once.
 *
 * Returns `Infinity`, so that the cache does not store the value, rather than underestimate it:
 * - for more than a million nodes (checked before a node is expanded: an array's `length` counts
 *   in full, so `a[2 ** 32 - 2] = 1` costs nothing to refuse);
 * - for memory it cannot see: a function (its closure), a getter or setter, a proxy, and any
 *   object other than a plain object (prototype `Object.prototype` or null), an array, `Map`,
 *   `Set`, `Date`, `ArrayBuffer`, typed array, `Buffer` or `DataView`. A class instance may keep
 *   any amount in `#private` fields, which no code outside its class can reach.
 *
 * What it does not count: the larger string a sliced string keeps alive, the buffer behind a view
 * beyond the view's own bytes, and properties added to a typed array. Pass your own `sizeOf` when
 * you know better, or to cache class instances.
 */
export const estimateBytes = (value: unknown): number => {
  const seen = new Set<object>()
  const stack: unknown[] = [value]
  let bytes = 0
  let nodes = 0
  /**
   * Pushes the values of an object's own properties, every one (symbol-keyed and non-enumerable
   * too), and counts their keys and, for properties beyond `isElement`'s, their hash table.
   * Returns false when it cannot size them: too many, or an accessor.
   */
  const pushProperties = (object: object, isElement: (key: string) => boolean): boolean => {
    const keys = Reflect.ownKeys(object)
    if (nodes + stack.length + keys.length > MAX_ESTIMATED_NODES) return false
    let properties = 0
    for (const key of keys) {
      const descriptor = Object.getOwnPropertyDescriptor(object, key)
      // An accessor's value lives in its closure, out of sight; reading it would run user code.
      if (descriptor === undefined || !('value' in descriptor)) return false
      if (typeof key === 'string' && isElement(key)) {
        if (key !== 'length') stack.push(descriptor.value)
        continue
      }
      properties++
      bytes += typeof key === 'string' ? key.length * 2 : 4
      stack.push(descriptor.value)
    }
    // Dictionary mode: the object (24) and its table's header (64), then 24-byte slots, the
    // table between a third and two thirds full (at least 4 slots), so up to 72 a property.
    if (properties > 0 || isElement === none) bytes += 88 + 72 * Math.max(2, properties)
    return true
  }
  while (stack.length > 0) {
    if (nodes >= MAX_ESTIMATED_NODES) return Number.POSITIVE_INFINITY
    const item = stack.pop()
    nodes++
    switch (typeof item) {
      case 'string':
        bytes += words(16 + item.length * 2)
        continue
      case 'number':
        bytes +=
          Number.isInteger(item) && item >= SMI_MIN && item <= SMI_MAX && !Object.is(item, -0)
            ? 8
            : 16
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
        bytes += 4
        continue
      case 'function':
        return Number.POSITIVE_INFINITY
    }
    if (item === null || seen.has(item as object)) {
      bytes += 4
      continue
    }
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
      // Header (32) and backing store header (16); `push` grows the store to n + n/2 + 16 slots.
      bytes += 48 + 8 * (length + Math.floor(length / 2) + 16)
      // Elements, and any other property, are own properties; only `length` is not data.
      if (!pushProperties(object, isArrayElement)) return Number.POSITIVE_INFINITY
      continue
    }
    if (prototype !== null && VIEW_PROTOTYPES.has(prototype as object)) {
      // The view and its buffer object on the heap; the bytes themselves (off the heap past 64).
      bytes += 256 + (object as ArrayBufferView).byteLength
      continue
    }
    let sized = true
    if (prototype === ArrayBuffer.prototype || prototype === SharedArrayBuffer.prototype) {
      bytes += 128 + (object as ArrayBuffer).byteLength
      sized = pushProperties(object, extrasOnly)
    } else if (prototype === Date.prototype) {
      bytes += 112
      sized = pushProperties(object, extrasOnly)
    } else if (prototype === Map.prototype) {
      const map = object as Map<unknown, unknown>
      if (nodes + stack.length + 2 * map.size > MAX_ESTIMATED_NODES) return Number.POSITIVE_INFINITY
      // An ordered hash table: 28 bytes a slot, at least 4 slots, at most twice the entries.
      bytes += 72 + 28 * Math.max(4, 2 * map.size)
      for (const [k, v] of map) stack.push(k, v)
      sized = pushProperties(object, extrasOnly)
    } else if (prototype === Set.prototype) {
      const set = object as Set<unknown>
      if (nodes + stack.length + set.size > MAX_ESTIMATED_NODES) return Number.POSITIVE_INFINITY
      bytes += 72 + 20 * Math.max(8, 2 * set.size)
      for (const v of set) stack.push(v)
      sized = pushProperties(object, extrasOnly)
    } else if (prototype === Object.prototype || prototype === null) {
      sized = pushProperties(object, none)
    } else {
      // A class instance (or another built-in): its `#private` fields cannot be seen from here.
      return Number.POSITIVE_INFINITY
    }
    if (!sized) return Number.POSITIVE_INFINITY
  }
  return bytes
}

/** For `pushProperties`: a plain object, whose table is paid for even when empty. */
const none = (): boolean => false
/** A `Map`, `Set`, `Date` or `ArrayBuffer`: a table only for properties added to it. */
const extrasOnly = (): boolean => false
/** An array's elements (their slots are counted with the array) and `length`. */
const isArrayElement = (key: string): boolean => {
  if (key === 'length') return true
  const index = Number(key)
  return Number.isInteger(index) && index >= 0 && index < 2 ** 32 - 1 && String(index) === key
}
