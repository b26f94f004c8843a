/** Keys per chunk at most; a chunk this full is split in two. */
const CHUNK_MAX = 1_024

/**
 * Every key the cache holds, in code-unit order, so that the keys starting with a prefix are one
 * contiguous run: a prefix invalidation costs O(log n) plus its matches, not a walk of the cache.
 * Chunked (a sorted array of sorted arrays, none empty), so that an insert or a delete moves at
 * most a chunk's worth of pointers: O(log n + CHUNK_MAX), and about 8 bytes a key.
 */
export class KeyIndex {
  #chunks: string[][] = []
  #size = 0

  get size(): number {
    return this.#size
  }

  add(key: string): void {
    if (this.#chunks.length === 0) {
      this.#chunks.push([key])
      this.#size = 1
      return
    }
    const c = Math.min(this.#chunkOf(key), this.#chunks.length - 1)
    const chunk = this.#chunks[c] as string[]
    const i = lowerBound(chunk, key)
    if (chunk[i] === key) return
    chunk.splice(i, 0, key)
    this.#size++
    if (chunk.length > CHUNK_MAX) this.#chunks.splice(c + 1, 0, chunk.splice(CHUNK_MAX >> 1))
  }

  delete(key: string): boolean {
    const c = this.#chunkOf(key)
    const chunk = this.#chunks[c]
    if (chunk === undefined) return false
    const i = lowerBound(chunk, key)
    if (chunk[i] !== key) return false
    chunk.splice(i, 1)
    this.#size--
    if (chunk.length === 0) this.#chunks.splice(c, 1)
    return true
  }

  /**
   * The keys starting with `prefix`, in order, at most `limit` of them: a copy, so that the caller
   * may delete them while it goes.
   */
  withPrefix(prefix: string, limit = Number.POSITIVE_INFINITY): string[] {
    const found: string[] = []
    for (let c = this.#chunkOf(prefix); c < this.#chunks.length; c++) {
      const chunk = this.#chunks[c] as string[]
      for (let i = found.length === 0 ? lowerBound(chunk, prefix) : 0; i < chunk.length; i++) {
        const key = chunk[i] as string
        if (!key.startsWith(prefix) || found.length >= limit) return found
        found.push(key)
      }
    }
    return found
  }

  clear(): void {
    this.#chunks = []
    this.#size = 0
  }

  /** The first chunk whose last key is ≥ `key` (the chunk count when there is none). */
  #chunkOf(key: string): number {
    let lo = 0
    let hi = this.#chunks.length
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      const chunk = this.#chunks[mid] as string[]
      if ((chunk[chunk.length - 1] as string) < key) lo = mid + 1
      else hi = mid
    }
    return lo
  }
}

/** The first index of `sorted` whose key is ≥ `key`. */
const lowerBound = (sorted: readonly string[], key: string): number => {
  let lo = 0
  let hi = sorted.length
  while (lo < hi) {
    const mid = (lo + hi) >> 1
    if ((sorted[mid] as string) < key) lo = mid + 1
    else hi = mid
  }
  return lo
}
