import { PutItemCommand, QueryCommand } from '@aws-sdk/client-dynamodb'
import type {
  InvalidationSource,
  SourcePollOptions,
  SourcePollResult,
  SourcePosition,
} from '../../src/index.js'
import {
  anchorQuery,
  appendInput,
  fromItem,
  headQuery,
  type Item,
  isHeartbeat,
  isHeartbeatRecord,
  type LogEntry,
  pollQuery,
} from '../../src/log/entry.js'
import type { ScacheLib } from '../lib/scache.js'
import type { RelayEvent } from './mapping.js'

/**
 * STAND-IN for scache's log source and relay, used by the fleet simulation only until they are
 * part of the package: minimal implementations of the contract in src/log/entry.ts (the same
 * queries, item format and append protocol), with none of the real ones' hardening (no stuck-relay
 * detection, no size splitting, no on-failure path). Not part of the product.
 */

type Client = { send(command: unknown): Promise<unknown> }

export interface StandInLogSourceOptions {
  readonly table: string
  readonly copy: number
  readonly client: Client
  readonly clockSkewMs: number
  readonly maxPagesPerShard: number
  readonly now: () => number
}

const result = (partial: Partial<SourcePollResult>): SourcePollResult => ({
  ok: true,
  records: 0,
  skippedRecords: 0,
  droppedEntries: 0,
  invalidations: 0,
  shardsPolled: 1,
  throttled: false,
  calls: {},
  errors: [],
  ...partial,
})

const isThrottle = (error: unknown): boolean => {
  const name = (error as { name?: string }).name
  return name === 'ProvisionedThroughputExceededException' || name === 'ThrottlingException'
}

/** STAND-IN log source: one Query per poll from its position; anchors on cold start. */
export class StandInLogSource implements InvalidationSource {
  readonly name: string
  readonly #o: StandInLogSourceOptions
  #position: number | undefined
  #anchorAt: number

  constructor(options: StandInLogSourceOptions) {
    this.#o = options
    this.name = `${options.table}#${options.copy}`
    this.#anchorAt = options.now()
  }

  skipToNow(): void {
    this.#position = undefined
    this.#anchorAt = this.#o.now()
  }

  positions(): readonly SourcePosition[] {
    return [
      {
        shardId: `log#${this.#o.copy}`,
        ...(this.#position === undefined ? {} : { sequenceNumber: String(this.#position) }),
        finished: false,
      },
    ]
  }

  async poll(options: SourcePollOptions): Promise<SourcePollResult> {
    const { table, copy, client } = this.#o
    let queries = 0
    let records = 0
    let invalidations = 0
    const apply = (entry: LogEntry) => {
      records++
      if (isHeartbeat(entry)) return
      invalidations++
      options.apply(entry)
    }
    try {
      if (this.#position === undefined) {
        // Anchor: the newest entries, applying those written since the anchor time.
        queries++
        const page = (await client.send(new QueryCommand(anchorQuery(table, copy)))) as {
          Items?: Item[]
        }
        const entries = (page.Items ?? []).flatMap((item) => fromItem(item) ?? [])
        for (const entry of [...entries].reverse())
          if (entry.at >= this.#anchorAt - this.#o.clockSkewMs) apply(entry)
        this.#position = entries[0]?.seq ?? 0
        return result({ records, invalidations, calls: { query: queries } })
      }
      let start: Item | undefined
      for (let page = 0; page < this.#o.maxPagesPerShard; page++) {
        queries++
        const out = (await client.send(
          new QueryCommand(pollQuery(table, copy, this.#position, start)),
        )) as { Items?: Item[]; LastEvaluatedKey?: Item }
        for (const item of out.Items ?? []) {
          const entry = fromItem(item)
          if (entry === undefined) continue
          if (entry.seq !== this.#position + 1) {
            this.skipToNow()
            return result({
              records,
              invalidations,
              restarted: 'retention',
              calls: { query: queries },
            })
          }
          apply(entry)
          this.#position = entry.seq
        }
        start = out.LastEvaluatedKey
        if (start === undefined)
          return result({ records, invalidations, calls: { query: queries } })
      }
      this.skipToNow()
      return result({ records, invalidations, restarted: 'behind', calls: { query: queries } })
    } catch (error) {
      return result({
        ok: false,
        records,
        invalidations,
        throttled: isThrottle(error),
        calls: { query: queries },
        errors: [{ name: (error as Error).name, message: (error as Error).message }],
      })
    }
  }
}

export interface StandInRelayOptions {
  readonly table: string
  readonly copies: number
  readonly client: Client
  readonly now: () => number
}

/**
 * STAND-IN relay: each batch becomes one entry (a heartbeat one when it evicts nothing), appended
 * to every copy at head + 1 with the contract's conditional PutItem, re-reading the head on a
 * conflict. An error rejects, so that the mapping retries the batch.
 */
export const standInRelay = (lib: ScacheLib, options: StandInRelayOptions) => {
  const heads = new Map<number, number>()
  return async (event: RelayEvent): Promise<void> => {
    const keys = new Set<string>()
    const prefixes = new Set<string>()
    let all = false
    let upTo: number | undefined
    let shard = ''
    for (const record of event.Records) {
      shard = record.eventID.split(':')[0] ?? ''
      upTo = Math.max(upTo ?? 0, Math.round(record.kinesis.approximateArrivalTimestamp * 1_000))
      const data = Buffer.from(record.kinesis.data, 'base64')
      let json: unknown
      try {
        json = JSON.parse(data.toString('utf8'))
      } catch {
        json = undefined
      }
      if (isHeartbeatRecord(json)) continue
      const decoded = lib.decodeRecord(data)
      if (!decoded.ok) continue
      for (const key of decoded.invalidation.keys) keys.add(key)
      for (const prefix of decoded.invalidation.prefixes) prefixes.add(prefix)
      all ||= decoded.invalidation.all
    }
    for (let copy = 0; copy < options.copies; copy++) {
      for (;;) {
        let head = heads.get(copy)
        if (head === undefined) {
          const page = (await options.client.send(
            new QueryCommand(headQuery(options.table, copy)),
          )) as { Items?: Item[] }
          head = page.Items?.[0] === undefined ? 0 : (fromItem(page.Items[0])?.seq ?? 0)
        }
        const at = options.now()
        const entry: LogEntry = {
          seq: head + 1,
          keys: [...keys],
          prefixes: [...prefixes],
          all,
          at,
          ...(upTo === undefined ? {} : { upTo }),
          shard,
          expiresAt: Math.ceil(at / 1_000) + 86_400,
        }
        try {
          await options.client.send(new PutItemCommand(appendInput(options.table, copy, entry)))
          heads.set(copy, head + 1)
          break
        } catch (error) {
          heads.delete(copy)
          if ((error as Error).name !== 'ConditionalCheckFailedException') throw error
        }
      }
    }
  }
}
