import { describeError } from '../errors.js'
import { dynamoDb, type LogClient } from './client.js'
import { appendInput, headQuery, headSeqOf, type LogEntry } from './entry.js'
import type { PendingEntry } from './pack.js'

/** First delay between attempts after an error other than a conflict, ms; it doubles… */
const RETRY_BASE_MS = 50
/** …up to this. */
const RETRY_CAP_MS = 1_000

export interface AppendTally {
  appended: number
  conflicts: number
  headReads: number
  retries: number
  lastError?: { name: string; message: string }
}

/** Waits `ms`, or less: it resolves as soon as `signal` aborts. */
export type Sleep = (ms: number, signal?: AbortSignal) => Promise<void>

/** `Sleep` on the global timers. */
export const timerSleep: Sleep = (ms, signal) =>
  new Promise<void>((resolve) => {
    if (signal?.aborted) return resolve()
    const done = () => {
      clearTimeout(timer)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    const timer = setTimeout(done, ms)
    signal?.addEventListener('abort', done, { once: true })
  })

export interface AppenderOptions {
  readonly table: string
  readonly client: () => Promise<LogClient>
  readonly retentionMs: number
  readonly now: () => number
  readonly sleep: Sleep
  /** Jitter of the retry backoff. */
  readonly random: () => number
}

/** The head of a copy could not be appended to before the deadline. */
export class AppendError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'AppendError'
  }
}

/**
 * Appends entries to the copies of the log, densely, in order, without transactions: each entry
 * is a conditional PutItem at head + 1; a conflict (another relay took that seq) re-reads the
 * head, strongly consistent, and tries again above it. The head is read once per batch and
 * remembered through it, so a relay that is the only writer makes one call per entry (and one
 * Query per batch). Other errors (throttling, 5xx, a timeout) are retried with backoff until the
 * deadline, then thrown, so that the caller can have the whole batch redelivered: entries
 * already appended are appended again, harmlessly.
 */
export class Appender {
  readonly #options: AppenderOptions
  /** Last seq known taken, per copy, in this batch; undefined: read it first. */
  readonly #heads = new Map<number, number>()

  constructor(options: AppenderOptions) {
    this.#options = options
  }

  /**
   * Appends `entries` to `copy`, in order, before `deadline` (wall clock ms). `signal` aborts
   * the call in flight at the deadline: a call that never answers must not hold the batch (and
   * its shard) until the function's timeout.
   */
  async append(
    copy: number,
    entries: readonly PendingEntry[],
    deadline: number,
    tally: AppendTally,
    signal?: AbortSignal,
  ): Promise<void> {
    // Each batch starts from a fresh head read. A head remembered from an earlier batch can be
    // stale in ways no conflict reveals: entries above it expired and deleted by TTL (in any
    // order), or an item put far above it by anything but a relay. An append at that head + 1
    // would land below the real head, where readers already past it never look. A batch ends
    // within `appendTimeoutMs`, under half the retention, so nothing above expires during one.
    if (entries.length > 0) this.#heads.delete(copy)
    for (const pending of entries) await this.#appendOne(copy, pending, deadline, tally, signal)
  }

  /**
   * A signal that aborts at `deadline`, by the injected sleep; `stop()` cancels its timer once
   * the work it guards is done.
   */
  deadlineSignal(deadline: number): { readonly signal: AbortSignal; stop(): void } {
    const expired = new AbortController()
    const done = new AbortController()
    this.#options.sleep(Math.max(0, deadline - this.#options.now()), done.signal).then(() => {
      if (!done.signal.aborted) expired.abort(new AppendError('the append deadline passed'))
    })
    return { signal: expired.signal, stop: () => done.abort() }
  }

  async #appendOne(
    copy: number,
    pending: PendingEntry,
    deadline: number,
    tally: AppendTally,
    signal: AbortSignal | undefined,
  ) {
    const { table, now } = this.#options
    const options = signal === undefined ? undefined : { abortSignal: signal }
    // A conflict at seq s proves s taken: the next attempt goes above it even if the head read
    // says otherwise, so every conflict moves the attempt up and none can repeat forever.
    let taken = 0
    let seq = 0
    for (let failures = 0; ; ) {
      try {
        const client = await this.#options.client()
        const { PutItemCommand, QueryCommand } = await dynamoDb()
        let head = this.#heads.get(copy)
        if (head === undefined) {
          tally.headReads++
          const { Items } = await client.send(new QueryCommand(headQuery(table, copy)), options)
          head = Math.max(taken, Items?.[0] === undefined ? 0 : (headSeqOf(Items[0]) ?? 0))
          this.#heads.set(copy, head)
        }
        if (!Number.isSafeInteger(head + 1))
          throw new AppendError(`${table} copy ${copy} has an item at seq ${head}: past 2^53`)
        seq = head + 1
        const at = now()
        const entry: LogEntry = {
          ...pending,
          seq,
          at,
          expiresAt: Math.ceil((at + this.#options.retentionMs) / 1_000),
        }
        await client.send(new PutItemCommand(appendInput(table, copy, entry)), options)
        this.#heads.set(copy, seq)
        tally.appended++
        return
      } catch (error) {
        if (error instanceof AppendError) throw error
        const described = describeError(error)
        if (described.name === 'ConditionalCheckFailedException') {
          // Someone else appended at that seq: find the head again. Not a failure: the log moved.
          taken = Math.max(taken, seq)
          tally.conflicts++
          this.#heads.delete(copy)
          if (now() < deadline) continue
        }
        // After an unknown outcome the head may have moved (even by our own write): re-read it.
        this.#heads.delete(copy)
        tally.lastError = described
        const delayMs = Math.min(RETRY_CAP_MS, RETRY_BASE_MS * 2 ** failures++)
        const waitMs = delayMs * (0.5 + this.#options.random() / 2)
        if (now() + waitMs >= deadline || signal?.aborted === true)
          throw new AppendError(
            `could not append to ${table} copy ${copy}: ${described.name}: ${described.message}`,
            { cause: error },
          )
        tally.retries++
        await this.#options.sleep(waitMs)
      }
    }
  }
}
