import { setMaxListeners } from 'node:events'
import { performance } from 'node:perf_hooks'
import type { Cache } from '../cache/index.js'
import type { InvalidationSource, SkippedRecord, SourcePollResult } from '../source/index.js'
import { applyInvalidation, clearCache } from './evict.js'
import type { Freshness } from './freshness.js'
import type { SourceHealth } from './health.js'
import type { Counters } from './invocation.js'
import type { Loads } from './loads.js'
import type { InvocationContext } from './types.js'

/** Skipped records a log line lists (all are counted). */
const SKIPPED_LISTED = 10

export interface PollerOptions {
  /** Every replica a container may read; writers write to all of them. */
  readonly names: readonly string[]
  /** The replica this container reads first. */
  readonly first: string
  readonly createSource: (name: string) => InvalidationSource
  readonly pollBudgetMs: number
  readonly random: () => number
  readonly now: () => number
  /** Hears every poll's outcome: tells a lasting misconfiguration from an outage. */
  readonly health?: SourceHealth
}

/**
 * Runs polls of the invalidation source: one at a time per container (concurrent invocations,
 * as Lambda Managed Instances send, share the one running), within a time budget, applying what
 * it reads to the cache. Here the source's verdicts become cache actions:
 * - a restart (the source could not vouch for its position) empties the cache;
 * - a throttled reader of replicated streams moves to another replica, emptying its cache;
 * - prefix invalidations evict once per poll, each prefix once, at the poll's end.
 * `Freshness` hears how each poll ended.
 */
export class Poller {
  readonly #options: PollerOptions
  readonly #cache: Cache
  readonly #loads: Loads
  readonly #freshness: Freshness
  #source: InvalidationSource
  #polling: Promise<SourcePollResult> | undefined
  /** When the running poll started, on the monotonic clock (`performance.now()`). */
  #pollingStartedAt = 0

  constructor(cache: Cache, loads: Loads, freshness: Freshness, options: PollerOptions) {
    this.#options = options
    this.#cache = cache
    this.#loads = loads
    this.#freshness = freshness
    this.#source = options.createSource(options.first)
  }

  /** The source read now (its replica may change). */
  get source(): InvalidationSource {
    return this.#source
  }

  /**
   * A poll is running: another invocation's (concurrent invocations in one environment), or one
   * this invocation's reads started.
   */
  get inFlight(): boolean {
    return this.#polling !== undefined
  }

  /**
   * Waits for a poll that started before `since` (an invocation's start, `performance.now()`): it
   * may miss what was acknowledged before the invocation began, so the caller decides afresh once
   * it settled. A poll that started after may be joined. Monotonic and finer than a millisecond,
   * so that an invocation never joins a poll that started before it in the same millisecond.
   */
  async settle(since: number): Promise<void> {
    while (this.#polling !== undefined && this.#pollingStartedAt < since) await this.#polling
  }

  /**
   * Runs a poll, or joins the one running. The poll's promise settles only once everything it
   * read was applied (the prefix scan, a clear, the new freshness), so a joiner never reads a
   * cache the poll has not finished with. What the poll did (evictions, a clear, skipped
   * records) counts in the `counters` of the invocation that ran it; a joiner's count nothing.
   */
  poll(
    context: InvocationContext,
    counters: Counters,
    skipped: SkippedRecord[],
  ): Promise<SourcePollResult> {
    if (this.#polling !== undefined) return this.#polling
    const startedAt = this.#options.now()
    this.#pollingStartedAt = performance.now()
    this.#polling = this.#run(startedAt, context, counters, skipped).finally(() => {
      this.#polling = undefined
    })
    return this.#polling
  }

  async #run(
    startedAt: number,
    context: InvocationContext,
    counters: Counters,
    skipped: SkippedRecord[],
  ): Promise<SourcePollResult> {
    const remaining = context.getRemainingTimeInMillis?.()
    // Never let the poll take more than half of what is left of the invocation that runs it
    // (its joiners wait for it, so their wait has the same bound). Nothing left: the invocation
    // outlived its timeout, which Lambda Managed Instances report but do not enforce; its poll
    // serves the invocations still running, so it gets the whole budget, not a 10 ms one that
    // would fail it and bypass their reads.
    const budgetMs = Math.max(
      10,
      Math.min(
        this.#options.pollBudgetMs,
        remaining === undefined || remaining <= 0 ? Number.POSITIVE_INFINITY : remaining / 2,
      ),
    )
    // A timer cleared when the poll settles: none is left to fire after a freeze.
    const budget = new AbortController()
    // Every call in flight listens on it, one per shard read in parallel: past 10, Node would warn
    // of a leak that is not one (the signal lives for one poll).
    setMaxListeners(0, budget.signal)
    const timer = setTimeout(() => budget.abort(), budgetMs)
    const prefixes = new Set<string>()
    const result = await this.#source
      .poll({
        apply: (invalidation) => {
          // Keys, tags, patterns and invalidate-all apply at once. Prefixes revoke the leases they
          // cover at once, but evict at the end of the poll, once each however many records
          // repeat them; each costs a lookup in the cache's key index plus what it evicts.
          this.#apply({ ...invalidation, prefixes: [] }, counters)
          if (invalidation.prefixes.length > 0) {
            this.#cache.revokeLeases(invalidation)
            for (const prefix of invalidation.prefixes) prefixes.add(prefix)
          }
        },
        onSkip: (record) => {
          if (skipped.length < SKIPPED_LISTED) skipped.push(record)
        },
        signal: budget.signal,
      })
      .finally(() => clearTimeout(timer))
    this.#options.health?.heard(result)
    if (prefixes.size > 0) this.#apply({ keys: [], prefixes: [...prefixes], all: false }, counters)
    if (result.throttled && result.restarted === undefined && this.#options.names.length > 1) {
      this.#moveReplica(counters)
      this.#freshness.polled(startedAt, 'moved')
    } else if (result.restarted !== undefined) {
      // The source could not vouch for its positions (too far behind, idle past retention, a
      // rejected position, a recreated stream) and moved them to now: what was written before
      // may never be read, so nothing cached before may be served.
      this.#clear(result.restarted, counters)
      this.#freshness.polled(startedAt, 'restarted')
    } else this.#freshness.polled(startedAt, result.ok ? 'ok' : 'failed', result.syncedTo)
    return result
  }

  /**
   * Containers pick their replica on their own, so some replicas get more readers than others
   * (50 containers on 16 streams: 6 or more on the busiest most of the time, for 3.1 on
   * average), and those throttle while the rest have room. A throttled reader moves to another
   * replica, at random: readers leave the busy ones until none is over its limit. It has no
   * position there that its cache is known to be consistent with, so the cache is cleared, as
   * after a restart. The backoff still counts the failure, so a fleet over every replica's budget
   * does not hop faster than it would poll.
   */
  #moveReplica(counters: Counters): void {
    const current = this.#source.name
    const others = this.#options.names.filter((name) => name !== current)
    const next = others[Math.floor(this.#options.random() * others.length)] ?? current
    this.#source = this.#options.createSource(next)
    this.#clear('replica-switched', counters)
  }

  #apply(invalidation: Parameters<typeof applyInvalidation>[2], counters: Counters): void {
    applyInvalidation(this.#cache, this.#loads, invalidation, counters)
  }

  #clear(reason: Parameters<typeof clearCache>[2], counters: Counters): void {
    clearCache(this.#cache, this.#loads, reason, counters)
  }
}
