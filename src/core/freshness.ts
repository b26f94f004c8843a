import { recencyOf } from '../cache/index.js'
import { afterThisRun, readsOncePerRun } from './clock.js'
import type { OnStreamError } from './options/index.js'

/** Backoff after failed polls: the delay doubles per failure from here (or the poll interval)… */
const MIN_BACKOFF_MS = 100
/** …up to here, or half of `maxStalenessMs` if less (but never below the poll interval). */
const MAX_BACKOFF_MS = 30_000
/** Least time between polls within one invocation. */
const MIN_REPOLL_MS = 1_000

export interface FreshnessOptions {
  readonly pollIntervalMs: number
  readonly maxStalenessMs: number
  readonly onStreamError: OnStreamError
  readonly now: () => number
  readonly random: () => number
}

/** How a poll ended, as far as freshness is concerned. */
export type PollOutcome =
  /** Read to the tip: the cache reflects the source up to the poll's start. */
  | 'ok'
  /** Throttled, failed or timed out: the cache is no fresher, and the next poll backs off. */
  | 'failed'
  /** The source moved to now and the cache was emptied: fresh, with nothing to be stale. */
  | 'restarted'
  /** A throttled reader moved to another replica, its cache emptied: fresh, but backing off. */
  | 'moved'

/** What `ServingTime.read` answers while reads must skip the cache. */
export const BYPASSED = Number.NaN

/**
 * The staleness bound and the clock, as a hit asks them: the time now, or `BYPASSED` (NaN) while
 * reads must skip the cache. With the per-run clock a time is kept in `at` for the run of code
 * that asked (the clock cannot move within it, and it is forgotten with the clock's reading,
 * before the event loop turns), and forgotten at once whenever `Freshness` changes what it would
 * answer; `BYPASSED` is never kept, nor any time read from a clock of the caller's own, which may
 * move within a run. So a hit of a trusted cache compares its entry's expiry with `at`, a number
 * it loads, where it would read the clock and compare it with the bound.
 */
export class ServingTime {
  /**
   * The time `read` answered in the code running now, or +Infinity when it must be asked: later
   * than any expiry, so a hit that finds it turns to the slow path by the expiry check itself.
   * Always a number, so that V8 keeps it unboxed.
   */
  at = Number.POSITIVE_INFINITY
  /** The recency period of `at` (`recencyOf`): a hit that finds its entry in another moves it. */
  recency = 0
  readonly #untrusted: ((now: number) => boolean) | undefined
  readonly #now: () => number
  readonly #perRun: boolean
  readonly #forget = (): void => {
    this.at = Number.POSITIVE_INFINITY
  }

  /** `untrusted` undefined: an invocation whose every read is a bypass. */
  constructor(now: () => number, untrusted: ((now: number) => boolean) | undefined) {
    this.#now = now
    this.#untrusted = untrusted
    this.#perRun = untrusted !== undefined && readsOncePerRun(now)
  }

  read(): number {
    if (this.#untrusted === undefined) return BYPASSED
    const now = this.#now()
    if (this.#untrusted(now)) return BYPASSED
    if (this.#perRun) {
      this.at = now
      this.recency = recencyOf(now)
      afterThisRun(this.#forget)
    }
    return now
  }

  /** `Freshness` changed: the next read asks again. */
  forget(): void {
    this.at = Number.POSITIVE_INFINITY
  }
}

/**
 * When to poll, and whether the cache may be trusted. This is where the staleness bound is
 * enforced:
 * - a value is served only while the last successful poll (or skip, or clear) started at most
 *   `maxStalenessMs` ago; past it, every read is a bypass (a miss whose load is not stored);
 * - between a failed (or deferred) poll and that bound, reads are bypassed with
 *   `onStreamError: 'bypass'`, served with `'serve-stale'`;
 * - a clock that stepped back makes the cache's age unknown: bypass until a poll succeeds, and
 *   poll at once.
 * The request cache asks on every read, not once per invocation, so a long handler cannot outlive
 * the bound; a hit asks through `serving`, which keeps the answer for a run of code.
 */
export class Freshness {
  readonly #options: FreshnessOptions
  /** Start of the last successful poll (or skip): the cache reflects the source up to here. */
  #syncedAt: number
  #lastPollAt = Number.NEGATIVE_INFINITY
  /** Start of the last poll or skip: what a running invocation's reads measure from. */
  #checkedAt = Number.NEGATIVE_INFINITY
  /** This cycle's poll interval: `pollIntervalMs`, jittered below it. */
  #intervalMs = 0
  /** While backing off, the longer delay before the next poll; 0 otherwise. */
  #backoffMs = 0
  /** Failed polls not yet paid back by successes: each doubles the delay before the next poll. */
  #backoffLevel = 0
  /** The backoff's first delay, its ceiling, and the level that reaches it (no higher is kept). */
  readonly #backoff: { readonly baseMs: number; readonly capMs: number; readonly maxLevel: number }
  #healthy = true
  /** The clock stepped back behind `#syncedAt`: nothing is trusted until a poll (or skip) syncs. */
  #syncForgotten = false
  /**
   * The bound as one number, recomputed whenever the state changes: reads are served up to here
   * (`#syncedAt` + `maxStalenessMs`, or never while an unhealthy stream bypasses).
   */
  #trustedUntil = Number.NEGATIVE_INFINITY
  /** `onStreamError: 'bypass'`: an invocation whose poll failed or was held back bypasses. */
  readonly bypassOnError: boolean
  /** What a hit asks: `untrusted` and the clock at once. */
  readonly serving: ServingTime
  /** …in an invocation whose poll was held back, with `onStreamError: 'bypass'`: always bypass. */
  readonly bypassedServing: ServingTime

  constructor(options: FreshnessOptions) {
    this.#options = options
    this.serving = new ServingTime(options.now, (now) => this.untrusted(now))
    this.bypassedServing = new ServingTime(options.now, undefined)
    this.#syncedAt = options.now()
    this.bypassOnError = options.onStreamError === 'bypass'
    this.#retrust()
    const baseMs = Math.max(MIN_BACKOFF_MS, options.pollIntervalMs)
    // At least two attempts per staleness window: backing off longer would only keep the cache
    // bypassed after the stream is back, and let entries sit unevicted, for no fewer failures.
    const capMs = Math.max(baseMs, Math.min(MAX_BACKOFF_MS, options.maxStalenessMs / 2))
    this.#backoff = { baseMs, capMs, maxLevel: Math.max(1, Math.ceil(Math.log2(capMs / baseMs))) }
  }

  /**
   * Whether a poll is owed at `now` (the interval has passed) and whether it may run (not held
   * back by the backoff). A clock that stepped back leaves the elapsed time unknown: poll at once.
   */
  schedule(now: number): { readonly owed: boolean; readonly due: boolean } {
    if (now < this.#syncedAt) this.#forgetSync()
    const sinceLastPoll = now - this.#lastPollAt
    const stepped = sinceLastPoll < 0
    const owed = stepped || sinceLastPoll >= this.#intervalMs
    return { owed, due: owed && (stepped || sinceLastPoll >= this.#backoffMs) }
  }

  /**
   * Whether a read in a running invocation should poll first: the interval (at least
   * `MIN_REPOLL_MS`, so `pollIntervalMs: 0` means once per request, not once per read) has
   * passed since the last poll, and no backoff holds it back. This keeps a long invocation's
   * later reads as fresh as its first; asked by every `getOrLoad`, so it allocates nothing.
   */
  repollDue(now: number): boolean {
    const sinceChecked = now - this.#checkedAt
    return (
      sinceChecked < 0 ||
      (sinceChecked >= Math.max(MIN_REPOLL_MS, this.#intervalMs) &&
        now - this.#lastPollAt >= this.#backoffMs)
    )
  }

  /** Whether reads skip the cache at `now`; `deferred`: this invocation's poll was held back. */
  bypassing(deferred: boolean, now: number): boolean {
    return this.untrusted(now) || (deferred && this.bypassOnError)
  }

  /**
   * Whether every read skips the cache at `now`, whatever its invocation: past the staleness
   * bound, or (a time before the sync) a clock that stepped back, so that how old the cache is
   * cannot be known. Two comparisons, asked by every hit.
   */
  untrusted(now: number): boolean {
    return now > this.#trustedUntil || (now < this.#syncedAt && this.#forgetSync())
  }

  /**
   * A time before the sync is a clock that stepped back: how old the cache is cannot be known,
   * and not only until the clock passes the sync again (by then the cache is older than it looks
   * by the whole step). The sync is forgotten, as if past the bound, until a poll succeeds.
   * Returns true: the cache is untrusted.
   */
  #forgetSync(): true {
    this.#syncForgotten = true
    this.#retrust()
    return true
  }

  /** Every change of `#trustedUntil` or `#syncedAt` comes through here, and so reaches `serving`. */
  #retrust(): void {
    this.serving.forget()
    this.#trustedUntil =
      this.#syncForgotten || (!this.#healthy && this.bypassOnError)
        ? Number.NEGATIVE_INFINITY
        : this.#syncedAt + this.#options.maxStalenessMs
  }

  /** Nothing cached could be stale (an empty cache, no load in flight): fresh as of `now`. */
  skipped(now: number): void {
    this.#checkedAt = now
    this.#syncedAt = now
    this.#healthy = true
    this.#syncForgotten = false
    this.#retrust()
  }

  /**
   * Records a poll that started at `startedAt`, and schedules the next one. `syncedTo`: the
   * source lags its writers and reflects them only up to then (a log fed by a relay); what the
   * cache knows only moves forward, as each poll adds to what earlier ones applied.
   */
  polled(startedAt: number, outcome: PollOutcome, syncedTo?: number): void {
    this.#lastPollAt = startedAt
    this.#checkedAt = startedAt
    this.#scheduleNext(outcome === 'ok' || outcome === 'restarted')
    if (outcome === 'ok')
      this.#syncedAt =
        syncedTo === undefined
          ? startedAt
          : this.#syncForgotten
            ? Math.min(startedAt, syncedTo)
            : Math.max(this.#syncedAt, Math.min(startedAt, syncedTo))
    else if (outcome === 'restarted' || outcome === 'moved') this.#syncedAt = this.#options.now()
    if (outcome !== 'failed') this.#syncForgotten = false
    this.#healthy = outcome !== 'failed'
    this.#retrust()
  }

  /**
   * When the next poll may run. Jitter spreads the polls of many containers; drawn below the
   * interval so that it stays a bound. Each failure (throttled, 5xx, timeout) doubles the delay,
   * up to half of `maxStalenessMs` (30 s at most), with wider jitter so throttled containers do
   * not retry together. Each success halves the exponent (5 s → 2 s → the interval,
   * with the defaults): a recovering stream is not hit by the whole fleet at once, and the cache
   * is back in a few polls.
   */
  #scheduleNext(succeeded: boolean): void {
    const { baseMs, capMs, maxLevel } = this.#backoff
    const { pollIntervalMs, random } = this.#options
    this.#backoffLevel = succeeded
      ? Math.floor(this.#backoffLevel / 2)
      : Math.min(maxLevel, this.#backoffLevel + 1)
    this.#intervalMs = pollIntervalMs * (0.8 + 0.2 * random())
    this.#backoffMs =
      this.#backoffLevel === 0
        ? 0
        : Math.min(capMs, baseMs * 2 ** this.#backoffLevel) * (0.5 + 0.5 * random())
  }

  /** When reads start to bypass the cache unless a poll succeeds first (the staleness bound). */
  get trustedUntil(): number {
    return this.#trustedUntil
  }

  /** Age of what the cache knows of the source, ms. */
  stalenessMs(now: number): number {
    return Math.max(0, now - this.#syncedAt)
  }

  /** Since the last poll started; undefined before the first. */
  lastPollAgeMs(now: number): number | undefined {
    return this.#lastPollAt === Number.NEGATIVE_INFINITY ? undefined : now - this.#lastPollAt
  }

  /** The delay before the next poll while backing off; 0 otherwise. */
  get backoffMs(): number {
    return this.#backoffMs
  }

  /** As at a cold start. */
  reset(): void {
    this.#syncedAt = this.#options.now()
    this.#lastPollAt = Number.NEGATIVE_INFINITY
    this.#checkedAt = Number.NEGATIVE_INFINITY
    this.#backoffLevel = 0
    this.#backoffMs = 0
    this.#healthy = true
    this.#syncForgotten = false
    this.#retrust()
  }
}
