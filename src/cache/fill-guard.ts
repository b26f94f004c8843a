import type { Invalidation } from '../record/index.js'
import { compilePattern } from '../record/pattern.js'

/**
 * One in-flight load. `valid` turns false when an invalidation covering its key or one of its
 * tags arrives, including a tag the load only learns later (`tag`): the invalidation came after
 * the load began, so the value may predate it.
 */
export class Lease {
  readonly key: string
  valid = true
  #tags: Set<string> | undefined
  /** Tags invalidated since the load began that it did not carry then. */
  #revokedTags: Set<string> | undefined

  constructor(key: string, tags: readonly string[] | undefined) {
    this.key = key
    if (tags !== undefined && tags.length > 0) this.#tags = new Set(tags)
  }

  /** The tags the entry will be stored with. */
  get tags(): readonly string[] | undefined {
    return this.#tags === undefined ? undefined : [...this.#tags]
  }

  /** Adds tags the load learned; one invalidated since the load began revokes the lease. */
  tag(tags: readonly string[]): void {
    this.#tags ??= new Set()
    for (const tag of tags) {
      this.#tags.add(tag)
      if (this.#revokedTags?.has(tag)) this.valid = false
    }
  }

  /** Applies a tag invalidation that arrived during the load. */
  revokeTags(tags: readonly string[]): void {
    for (const tag of tags) {
      if (this.#tags?.has(tag)) {
        this.valid = false
        return
      }
    }
    this.#revokedTags ??= new Set()
    for (const tag of tags) this.#revokedTags.add(tag)
  }
}

/**
 * The fill guard (memcache leases): a value whose load was overtaken by an invalidation of its
 * key, of a prefix, pattern or tag of it, or of everything must not be stored, or the cache would
 * keep a value read before the change it missed. Every invalidation marks the leases it covers; a
 * load stores its value only if its lease is still valid.
 */
export class FillGuard {
  readonly #leases = new Set<Lease>()

  /** Loads in flight; the stream reader may not skip a poll while any is running. */
  get size(): number {
    return this.#leases.size
  }

  acquire(key: string, tags?: readonly string[]): Lease {
    const lease = new Lease(key, tags)
    this.#leases.add(lease)
    return lease
  }

  release(lease: Lease): void {
    this.#leases.delete(lease)
  }

  revoke(invalidation: Invalidation): void {
    if (this.#leases.size === 0) return
    const keys = new Set(invalidation.keys)
    const patterns = (invalidation.patterns ?? []).map(compilePattern)
    const tags = invalidation.tags ?? []
    for (const lease of this.#leases) {
      if (
        invalidation.all ||
        keys.has(lease.key) ||
        invalidation.prefixes.some((prefix) => lease.key.startsWith(prefix)) ||
        patterns.some((pattern) => pattern.matches(lease.key))
      ) {
        lease.valid = false
      } else if (tags.length > 0) lease.revokeTags(tags)
    }
  }
}
