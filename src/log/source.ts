import type { QueryCommandOutput } from '@aws-sdk/client-dynamodb'
import { describeError } from '../errors.js'
import type {
  InvalidationSource,
  RestartReason,
  SourceError,
  SourcePollOptions,
  SourcePollResult,
  SourcePosition,
} from '../source/index.js'
import { dynamoDb, type LogClient, lazyClient } from './client.js'
import {
  anchorQuery,
  copyKey,
  fromItem,
  headQuery,
  type Item,
  isHeartbeat,
  type LogEntry,
  pollQuery,
} from './entry.js'

/** An entry this close to its TTL counts as gone: TTL deletion is not instantaneous, nor exact. */
const RETENTION_MARGIN_MS = 10 * 60_000
/** DynamoDB's answers to a reader over the table's (or the account's) limits. */
const THROTTLES = new Set([
  'ProvisionedThroughputExceededException',
  'ThrottlingException',
  'RequestLimitExceeded',
])

export interface LogSourceOptions {
  readonly table: string
  /** The copy read (`log#<copy>`). */
  readonly copy: number
  /** Default: one like `createLogClient`'s, created on the first poll. */
  readonly client?: LogClient
  /** Margin for the relay's clock against ours, when anchoring a position at a time. */
  readonly clockSkewMs: number
  /** Most Query pages one poll reads; more backlog restarts (`behind`). */
  readonly maxPages: number
  /**
   * The relay is stuck when the newest entry read covers the stream only up to longer ago than
   * this: the poll fails. The engine's `maxStalenessMs`.
   */
  readonly maxBehindMs: number
  readonly now?: () => number
}

interface Tally {
  query: number
  records: number
  invalidations: number
  skippedRecords: number
  restart: RestartReason | undefined
  errors: SourceError[]
}

class Restart extends Error {
  constructor(readonly reason: RestartReason) {
    super(reason)
  }
}

/**
 * Reads the log table the relay appends to, one copy of it: one strongly consistent Query per
 * poll (entries after the position), whatever the stream's shard count. The position is the last
 * seq applied. With none (a cold start, a skip, a restart) it is anchored at a time: the newest
 * entries are read, descending, and those appended since then (less the clock skew margin) are
 * applied, so nothing written after the anchor is missed.
 *
 * Restarts (the caller clears its cache): the first entry after the position is not the next seq
 * (entries expired under a frozen container, or the copy was reset), the position's entry is past
 * its TTL, or more backlog than `maxPages`. The log is only as fresh as the relay: each entry says
 * how far along the stream it covers (`upTo`), the poll reports it (`syncedTo`) for the engine's
 * staleness, and fails when it is older than `maxBehindMs` (a stuck or lagging relay).
 */
export class LogSource implements InvalidationSource {
  readonly name: string
  readonly #options: LogSourceOptions
  readonly #now: () => number
  readonly #client: () => Promise<LogClient>
  /** The last seq applied; undefined: anchor at `#anchorAt`. */
  #position: number | undefined
  #anchorAt: number
  /** When the position was last confirmed by a poll. */
  #positionAt: number
  /** TTL of the entry at the position, epoch seconds: later entries live at least as long. */
  #expiresAt = Number.POSITIVE_INFINITY
  /** The newest `upTo` read: the stream is relayed up to here. */
  #upTo: number | undefined

  constructor(options: LogSourceOptions) {
    this.#options = options
    this.name = `${options.table}/${copyKey(options.copy)}`
    this.#now = options.now ?? Date.now
    this.#client = lazyClient(options.client)
    this.#anchorAt = this.#now()
    this.#positionAt = this.#anchorAt
  }

  skipToNow(keepPositionMs: number): void {
    const now = this.#now()
    if (this.#position !== undefined && now - this.#positionAt < keepPositionMs) return
    this.#position = undefined
    this.#anchorAt = now
    this.#positionAt = now
  }

  positions(): SourcePosition[] {
    return [
      {
        shardId: copyKey(this.#options.copy),
        ...(this.#position === undefined ? {} : { sequenceNumber: String(this.#position) }),
        finished: false,
      },
    ]
  }

  async poll(options: SourcePollOptions): Promise<SourcePollResult> {
    const tally: Tally = {
      query: 0,
      records: 0,
      invalidations: 0,
      skippedRecords: 0,
      restart: undefined,
      errors: [],
    }
    const startedAt = this.#now()
    try {
      if (
        this.#position !== undefined &&
        startedAt >= this.#expiresAt * 1_000 - RETENTION_MARGIN_MS
      )
        throw new Restart('retention')
      const read =
        this.#position === undefined
          ? await this.#anchor(tally, options)
          : await this.#forward(this.#position, tally, options)
      if (read === 0) await this.#checkHead(tally, options)
      this.#positionAt = startedAt
      const behindMs = this.#upTo === undefined ? undefined : startedAt - this.#upTo
      if (behindMs === undefined || behindMs > this.#options.maxBehindMs)
        tally.errors.push({
          name: 'RelayBehind',
          message:
            behindMs === undefined
              ? 'the log has no entry yet: is the relay (and its heartbeat) running?'
              : `the log covers the stream only up to ${Math.round(behindMs)} ms ago`,
        })
    } catch (error) {
      if (error instanceof Restart) tally.restart = error.reason
      else tally.errors.push(describeError(error))
    }
    if (tally.restart !== undefined) {
      this.#position = undefined
      this.#anchorAt = this.#now()
      this.#expiresAt = Number.POSITIVE_INFINITY
    }
    return {
      ok: tally.errors.length === 0,
      records: tally.records,
      skippedRecords: tally.skippedRecords,
      droppedEntries: 0,
      invalidations: tally.invalidations,
      shardsPolled: 1,
      ...(tally.restart === undefined ? {} : { restarted: tally.restart }),
      ...(this.#upTo === undefined ? {} : { syncedTo: this.#upTo }),
      throttled: tally.errors.some((error) => THROTTLES.has(error.name)),
      calls: { query: tally.query },
      errors: tally.errors,
    }
  }

  async #query(input: ReturnType<typeof pollQuery>, tally: Tally, options: SourcePollOptions) {
    tally.query++
    const [client, { QueryCommand }] = await Promise.all([this.#client(), dynamoDb()])
    const output: QueryCommandOutput = await client.send(new QueryCommand(input), {
      abortSignal: options.signal,
    })
    return output
  }

  /** Reads entries after `position`, in order; returns how many. */
  async #forward(position: number, tally: Tally, options: SourcePollOptions): Promise<number> {
    const { table, copy, maxPages } = this.#options
    let start: Item | undefined
    let read = 0
    for (let page = 0; page < maxPages; page++) {
      const output = await this.#query(pollQuery(table, copy, position, start), tally, options)
      for (const item of output.Items ?? []) {
        const entry = fromItem(item)
        if (entry === undefined) continue
        // Dense numbering: a missing seq is an entry gone (expired, or a reset copy) unread.
        if (entry.seq !== (this.#position ?? position) + 1) throw new Restart('retention')
        this.#apply(entry, tally, options)
        read++
      }
      start = output.LastEvaluatedKey
      if (start === undefined) return read
      if (options.signal?.aborted) throw new Error('poll budget exhausted')
    }
    throw new Restart('behind')
  }

  /** Positions at the head, applying the entries appended since the anchor time. */
  async #anchor(tally: Tally, options: SourcePollOptions): Promise<number> {
    const { table, copy, maxPages, clockSkewMs } = this.#options
    const since = this.#anchorAt - clockSkewMs
    const young: LogEntry[] = []
    let head = 0
    let start: Item | undefined
    for (let page = 0; page < maxPages; page++) {
      const output = await this.#query(anchorQuery(table, copy, start), tally, options)
      for (const item of output.Items ?? []) {
        const entry = fromItem(item)
        if (entry === undefined) continue
        head = Math.max(head, entry.seq)
        this.#noteProgress(entry)
        // The first entry older than the anchor ends the read: what is below it is older still,
        // in a log only relays write. An item without a time (`at` 0: none a relay writes)
        // says nothing of what is below it, so the read goes on past it.
        if (entry.at > 0 && entry.at < since) {
          this.#settle(young, head, entry, tally, options)
          return young.length
        }
        young.push(entry)
      }
      start = output.LastEvaluatedKey
      if (start === undefined) {
        this.#settle(young, head, young.at(-1), tally, options)
        return young.length
      }
    }
    throw new Restart('behind')
  }

  #settle(
    young: readonly LogEntry[],
    head: number,
    oldest: LogEntry | undefined,
    tally: Tally,
    options: SourcePollOptions,
  ): void {
    for (const entry of [...young].reverse()) this.#apply(entry, tally, options)
    this.#position = head
    const newest = young[0] ?? oldest
    if (newest !== undefined) this.#expiresAt = newest.expiresAt
  }

  /**
   * Nothing new: normal for a quiet log, unless the copy was reset under us (its head now below
   * our position, and nothing will ever come after it). Checked only when the log looks silent.
   */
  async #checkHead(tally: Tally, options: SourcePollOptions): Promise<void> {
    const position = this.#position
    const behind = this.#upTo === undefined || this.#now() - this.#upTo > this.#options.maxBehindMs
    if (position === undefined || position === 0 || !behind) return
    const output = await this.#query(
      headQuery(this.#options.table, this.#options.copy),
      tally,
      options,
    )
    const head = output.Items?.[0] === undefined ? 0 : (fromItem(output.Items[0])?.seq ?? 0)
    if (head < position) throw new Restart('position-lost')
  }

  #apply(entry: LogEntry, tally: Tally, options: SourcePollOptions): void {
    tally.records++
    if (!isHeartbeat(entry)) {
      tally.invalidations++
      options.apply({ keys: entry.keys, prefixes: entry.prefixes, all: entry.all })
    }
    // Only after it was applied: a poll that fails here re-reads the entry, harmlessly.
    this.#position = entry.seq
    this.#expiresAt = entry.expiresAt
    this.#noteProgress(entry)
  }

  #noteProgress(entry: LogEntry): void {
    if (entry.upTo !== undefined) this.#upTo = Math.max(this.#upTo ?? 0, entry.upTo)
  }
}
