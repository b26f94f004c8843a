/**
 * Fixed cost of one entry beyond its key's characters and its value: the entry wrapper (up to
 * 56 bytes, plus 16-byte heap numbers for its expiry and a fractional load cost),
 * its slot in lru-cache's key map (28 bytes, up to 56 while the table is half empty after it
 * doubles) and the key string's header, alignment, or the cons cell of a key built by
 * concatenation (up to 48).
 */
export const ENTRY_OVERHEAD_BYTES = 208

/** A value with more nodes than this is not sized (nor cached) unless `sizeOf` is given. */
export const MAX_ESTIMATED_NODES = 1_000_000

// Small integers live in the slot that holds them; V8 boxes any other number (31 bits where
// pointers are compressed, 32 where they are not: the smaller range holds for both).
const SMI_MIN = -(2 ** 30)
const SMI_MAX = 2 ** 30 - 1

/** V8 allocates in 8-byte words. */
const words = (bytes: number): number => Math.ceil(bytes / 8) * 8

/**
 * Rough retained size of a value in bytes, an upper bound on how V8 (64-bit) lays it out: a
 * string takes 2 bytes per character (one-byte strings take half) plus a 16-byte header, a
 * fractional or large number a 16-byte heap number; an object is sized as if its properties
 * were in a hash table (dictionary mode: wide objects built property by property, objects with
 * a null prototype), up to 72 bytes a property, an array with the spare capacity `push` leaves.
 * Counts shared or cyclic references once. Returns `Infinity` for a value of more than a
 * million nodes rather than underestimate it (checked before a node is expanded, an array's
 * `length` in full): the cache does not store what it cannot size.
 * What it cannot see it does not count: the larger string a sliced string keeps alive, the
 * buffer behind a view, a closure's context. Pass your own `sizeOf` when you know better (e.g.
 * a `Buffer`'s length).
 */
export const estimateBytes = (value: unknown): number => {
  const seen = new Set<object>()
  const stack: unknown[] = [value]
  let bytes = 0
  let nodes = 0
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
      case 'boolean':
      case 'undefined':
      case 'symbol':
      case 'function':
        bytes += 4
        continue
    }
    if (item === null || seen.has(item as object)) {
      bytes += 4
      continue
    }
    const object = item as object
    seen.add(object)
    // The view and its buffer object on the heap; the bytes themselves (off the heap past 64).
    if (ArrayBuffer.isView(object)) bytes += 256 + object.byteLength
    else if (object instanceof ArrayBuffer) bytes += 128 + object.byteLength
    else if (object instanceof Date) bytes += 112
    else if (Array.isArray(object)) {
      // Header (32) and backing store header (16); `push` grows the store to n + n/2 + 16 slots.
      // Bounded before anything is expanded: a sparse array's length is not its memory, but it
      // is the work of walking it (`a[2 ** 32 - 2] = 1` has 4 billion slots to visit).
      const length = object.length
      if (nodes + stack.length + length > MAX_ESTIMATED_NODES) return Number.POSITIVE_INFINITY
      bytes += 48 + 8 * (length + Math.floor(length / 2) + 16)
      for (const element of object) stack.push(element)
    } else if (object instanceof Map) {
      if (nodes + stack.length + 2 * object.size > MAX_ESTIMATED_NODES)
        return Number.POSITIVE_INFINITY
      // An ordered hash table: 28 bytes a slot, at least 4 slots, at most twice the entries.
      bytes += 72 + 28 * Math.max(4, 2 * object.size)
      for (const [k, v] of object) stack.push(k, v)
    } else if (object instanceof Set) {
      if (nodes + stack.length + object.size > MAX_ESTIMATED_NODES) return Number.POSITIVE_INFINITY
      bytes += 72 + 20 * Math.max(8, 2 * object.size)
      for (const v of object) stack.push(v)
    } else {
      // Dictionary mode: the object (24) and its table's header (64), then 24-byte slots, the
      // table between a third and two thirds full (at least 4 slots), so up to 72 a property.
      const entries = Object.entries(object)
      bytes += 88 + 72 * Math.max(2, entries.length)
      for (const [k, v] of entries) {
        bytes += k.length * 2
        stack.push(v)
      }
    }
  }
  return bytes
}
