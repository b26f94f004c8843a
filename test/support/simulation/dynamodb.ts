import {
  type AttributeValue,
  type DynamoDBClient,
  InternalServerError,
  ProvisionedThroughputExceededException,
  PutItemCommand,
} from '@aws-sdk/client-dynamodb'
import { SimulatedDynamoDB } from '../../../bench/fleet/dynamodb.js'
import { copyKey, fromItem, type LogEntry } from '../../../src/log/index.js'
import { operationOf, simulatedCall } from './call.js'
import type { VirtualTime } from './time.js'

/**
 * The log table in virtual time for the simulation: the fleet simulator's DynamoDB
 * (bench/fleet/dynamodb.ts: Query, conditional PutItem, the partition limits) answers every call
 * as of the virtual time it is sent; this adds what the simulation breaks promises with. Faults
 * per call (throttling, 5xx, connection resets, calls that hang until the caller aborts them), a
 * table unreachable for a while (every call refused, or every call hung), TTL deletion (in any
 * order, some time after an entry's `expiresAt`), a hostile writer with PutItem rights, and a
 * record of every entry appended (when, to which copy), against which reads are checked.
 */

export const LOG_TABLE = 'invalidation-log'

export interface TableFaults {
  /** Probability per call of each fault. */
  readonly throttle: number
  readonly serverError: number
  readonly reset: number
  readonly hang: number
}

export const noTableFaults: TableFaults = { throttle: 0, serverError: 0, reset: 0, hang: 0 }

/** An entry as it was appended: the item read back as the containers read it, and when. */
export interface Appended {
  readonly copy: number
  readonly entry: LogEntry
  readonly at: number
}

type Item = Record<string, AttributeValue>

const metadata = (status: number) => ({ httpStatusCode: status, requestId: 'simulated' })

type Fault = 'hang' | 'throttle' | '5xx' | 'reset'

const drawFault = (faults: TableFaults, draw: number): Fault | undefined => {
  let edge = 0
  for (const [fault, probability] of [
    ['hang', faults.hang],
    ['throttle', faults.throttle],
    ['5xx', faults.serverError],
    ['reset', faults.reset],
  ] as const) {
    edge += probability
    if (draw < edge) return fault
  }
  return undefined
}

const faultError = (fault: Exclude<Fault, 'hang'> | 'refused'): Error => {
  switch (fault) {
    case 'throttle':
      return new ProvisionedThroughputExceededException({
        message: 'The level of configured provisioned throughput for the table was exceeded.',
        $metadata: metadata(400),
      })
    case '5xx':
      return new InternalServerError({
        message: 'Internal server error (injected).',
        $metadata: metadata(500),
      })
    case 'reset':
      return Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })
    case 'refused':
      return Object.assign(new Error('connect ECONNREFUSED'), {
        name: 'Error',
        code: 'ECONNREFUSED',
      })
  }
}

export interface SimulatedLogTableOptions {
  readonly time: VirtualTime
  readonly random: () => number
  readonly copies: number
  /**
   * How long a relay invocation may hold the head it read: an item put by hand within that
   * long is not yet the head the relay's appends are checked against (its next batch sees it).
   */
  readonly batchMs: number
  readonly note?: (line: () => string) => void
}

export class SimulatedLogTable {
  readonly #options: SimulatedLogTableOptions
  readonly #db = new SimulatedDynamoDB({
    tables: [{ name: LOG_TABLE, partitionKey: 'pk', sortKey: 'seq' }],
  })
  /** Until then every call fails: refused, or hung (the caller's abort ends it). */
  #downUntil = Number.NEGATIVE_INFINITY
  #downHow: 'refused' | 'hang' = 'refused'
  /** Every entry appended, in order, per copy. */
  readonly appended: Appended[][]
  /**
   * Entries appended below the newest item their copy held then (into a hole TTL left): a
   * reader already past that seq never reads them.
   */
  readonly belowHead: Appended[] = []
  readonly calls: Record<string, number> = {}
  readonly faults: Record<string, number> = {}

  constructor(options: SimulatedLogTableOptions) {
    this.#options = options
    this.appended = Array.from({ length: options.copies }, () => [])
  }

  /** The table cannot be reached for `forMs`: every call refused, or hung until aborted. */
  down(forMs: number, how: 'refused' | 'hang'): void {
    this.#downUntil = this.#options.time.now + forMs
    this.#downHow = how
  }

  /**
   * TTL deletion: an item past its `expiresAt` is deleted with probability `share` per sweep
   * (DynamoDB deletes expired items within days, in no order).
   */
  sweep(share: number): number {
    const now = this.#options.time.now
    let removed = 0
    for (let copy = 0; copy < this.#options.copies; copy++)
      removed += this.#db.remove(LOG_TABLE, copyKey(copy), (item) => {
        const expiresAt = Number(item.expiresAt?.N)
        return (
          Number.isFinite(expiresAt) && expiresAt * 1_000 < now && this.#options.random() < share
        )
      })
    return removed
  }

  /** The newest seq of a copy (as stored, whatever the item's shape). */
  head(copy: number): number {
    const items = this.#db.items(LOG_TABLE, copyKey(copy))
    return Number(items.at(-1)?.seq?.N ?? 0)
  }

  /** When each item put by hand was put, by `copy#seq`. */
  readonly #putByHandAt = new Map<string, number>()

  /** A PutItem by someone other than the relay, unconditional, answered now. */
  putRaw(item: Item): void {
    this.#putByHandAt.set(`${item.pk?.S}#${item.seq?.N}`, this.#options.time.now)
    this.#db.handle(
      new PutItemCommand({ TableName: LOG_TABLE, Item: item }),
      this.#options.time.now,
    )
  }

  /**
   * A client: each call is answered as of the virtual time it is sent (so a write lands even if
   * its answer is lost), after a fault is drawn for it, and arrives `latencyMs()` later. A hung
   * call never arrives and rejects only when the caller's abort signal fires. While `alive()` is
   * false (a relay instance that crashed) calls never leave.
   */
  client(faults: () => TableFaults, latencyMs: () => number, alive = () => true): DynamoDBClient {
    const time = this.#options.time
    const random = this.#options.random
    const send = (command: unknown, options?: { abortSignal?: AbortSignal }): Promise<unknown> =>
      // A dead instance's calls never leave.
      !alive()
        ? new Promise(() => {})
        : simulatedCall(time, options?.abortSignal, latencyMs, () => {
            const operation = operationOf(command)
            this.calls[operation] = (this.calls[operation] ?? 0) + 1
            const down = time.now < this.#downUntil ? this.#downHow : undefined
            const fault = down ?? drawFault(faults(), random())
            if (fault !== undefined) this.faults[fault] = (this.faults[fault] ?? 0) + 1
            if (fault === 'hang') return 'hang'
            if (fault !== undefined) return { ok: false, error: faultError(fault) }
            try {
              const item = command instanceof PutItemCommand ? command.input.Item : undefined
              const headBefore = item === undefined ? 0 : this.#headOf(item)
              const output = this.#db.handle(command, time.now)
              if (item !== undefined) this.#record(item, headBefore)
              return { ok: true, output }
            } catch (error) {
              return { ok: false, error }
            }
          })
    // LogSource and the relay use only send().
    return { send } as unknown as DynamoDBClient
  }

  /** The head a relay's append at `item` must not fall below (see `batchMs`). */
  #headOf(item: Item): number {
    const now = this.#options.time.now
    const items = this.#db.items(LOG_TABLE, item.pk?.S ?? '')
    for (let i = items.length - 1; i >= 0; i--) {
      const put = this.#putByHandAt.get(`${items[i]?.pk?.S}#${items[i]?.seq?.N}`)
      if (put === undefined || now - put > this.#options.batchMs) return Number(items[i]?.seq?.N)
    }
    return 0
  }

  #record(item: Item, headBefore: number): void {
    const copy = Number(/^log#(\d+)$/.exec(item.pk?.S ?? '')?.[1])
    const entry = fromItem(item)
    const list = this.appended[copy]
    if (entry !== undefined && list !== undefined) {
      const appended = { copy, entry, at: this.#options.time.now }
      if (entry.seq < headBefore) this.belowHead.push(appended)
      list.push(appended)
      this.#options.note?.(
        () =>
          `appended log#${copy} seq ${entry.seq}: ${entry.all ? 'all ' : ''}` +
          `${[...entry.keys, ...entry.prefixes.map((p) => `${p}*`)].join(',')} upTo ${entry.upTo}`,
      )
    }
  }
}
