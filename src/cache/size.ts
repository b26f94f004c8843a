/** Fixed cost of one entry beyond its key and value: the store's slots and the entry wrapper. */
export const ENTRY_OVERHEAD_BYTES = 96

/** A value with more nodes than this is not sized (nor cached) unless `sizeOf` is given. */
export const MAX_ESTIMATED_NODES = 1_000_000

/**
 * Rough retained size of a value in bytes, the way V8 lays it out: 2 bytes per string character,
 * 8 per number, ~32 bytes per object header plus its properties. Counts shared or cyclic
 * references once. Returns `Infinity` for a value of more than a million nodes rather than
 * underestimate it: the cache does not store what it cannot size. Pass your own `sizeOf` when
 * you know better (e.g. a `Buffer`'s length).
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
        bytes += 16 + item.length * 2
        continue
      case 'number':
      case 'bigint':
        bytes += 8
        continue
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
    if (ArrayBuffer.isView(object)) bytes += 64 + object.byteLength
    else if (object instanceof ArrayBuffer) bytes += 32 + object.byteLength
    else if (object instanceof Date) bytes += 24
    else if (Array.isArray(object)) {
      bytes += 16 + object.length * 8
      for (const element of object) stack.push(element)
    } else if (object instanceof Map) {
      bytes += 32 + object.size * 24
      for (const [k, v] of object) stack.push(k, v)
    } else if (object instanceof Set) {
      bytes += 32 + object.size * 16
      for (const v of object) stack.push(v)
    } else {
      bytes += 32
      for (const [k, v] of Object.entries(object)) {
        bytes += 8 + k.length * 2
        stack.push(v)
      }
    }
  }
  return bytes
}
