import type { Invalidation } from '../record/index.js'

/** One in-flight load. `valid` turns false when an invalidation covering its key arrives. */
export interface Lease {
  readonly key: string
  valid: boolean
}

/**
 * The fill guard (memcache leases): a value whose load was overtaken by an invalidation of its
 * key, of a prefix of it, or of everything must not be stored, or the cache would keep a value
 * read before the change it missed. Every invalidation marks the leases it covers; a load stores
 * its value only if its lease is still valid.
 */
export class FillGuard {
  readonly #leases = new Set<Lease>()

  /** Loads in flight; the stream reader may not skip a poll while any is running. */
  get size(): number {
    return this.#leases.size
  }

  acquire(key: string): Lease {
    const lease: Lease = { key, valid: true }
    this.#leases.add(lease)
    return lease
  }

  release(lease: Lease): void {
    this.#leases.delete(lease)
  }

  revoke(invalidation: Invalidation): void {
    if (this.#leases.size === 0) return
    const keys = new Set(invalidation.keys)
    for (const lease of this.#leases) {
      if (
        invalidation.all ||
        keys.has(lease.key) ||
        invalidation.prefixes.some((prefix) => lease.key.startsWith(prefix))
      ) {
        lease.valid = false
      }
    }
  }
}
