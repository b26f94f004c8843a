import {
  type _Record,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type KinesisClient,
  ListShardsCommand,
} from '@aws-sdk/client-kinesis'
import { kinesisEvent, onFailureEvent } from '../../../infra/local/relay.js'
import type { RelayEvent, RelayHandler } from '../../../src/index.js'
import type { VirtualTime } from './time.js'

/**
 * Lambda's event source mapping for Kinesis in virtual time, driving the real relay as the
 * template configures it (StartingPosition TRIM_HORIZON, BatchSize, ParallelizationFactor 1,
 * BisectBatchOnFunctionError, MaximumRetryAttempts, an SQS on-failure destination whose own
 * mapping invokes the relay, and redelivers after the visibility timeout). One poller per shard,
 * about once a second; a parent shard is read to its end before its children; one batch in
 * flight per shard. An invocation runs in a relay instance, which is discarded when it crashes
 * or times out (the next invocation starts a new one, cold: its cached head is gone); a crashed
 * instance sends nothing more, though what it sent may still land. Faults: invocations that crash
 * at a random point, are throttled, or whose success is lost (the batch is delivered again), and
 * the whole mapping stalled for a while.
 *
 * A shard found empty a few times in a row is polled again only after something is put on the
 * stream (`notify`): an empty GetRecords changes nothing, and a simulated day of them would cost
 * more than the rest of the world.
 */

export interface MappingFaults {
  /** Probability per invocation that the instance dies partway. */
  readonly crash: number
  /** Probability per invocation that Lambda refuses it (throttled): retried. */
  readonly throttle: number
  /** Probability per successful invocation that the mapping delivers the batch again. */
  readonly redeliver: number
}

export const noMappingFaults: MappingFaults = { crash: 0, throttle: 0, redeliver: 0 }

export interface SimulatedMappingOptions {
  readonly time: VirtualTime
  readonly random: () => number
  readonly stream: string
  /** The mapping's Kinesis client (it shares the stream's faults). */
  readonly kinesis: KinesisClient
  /** Creates a relay instance; `alive()` turns false when it dies (its calls never leave). */
  readonly createRelay: (alive: () => boolean) => RelayHandler
  readonly batchSize: number
  readonly maxRetries: number
  readonly functionTimeoutMs: number
  /** The on-failure queue's visibility timeout: a failed message is redelivered after it. */
  readonly visibilityTimeoutMs: number
  readonly faults: () => MappingFaults
  /** Until then the mapping does nothing (Lambda stalled, the mapping disabled). */
  readonly stalledUntil: () => number
  readonly note: (line: () => string) => void
}

export interface MappingStats {
  invocations: number
  failedInvocations: number
  crashes: number
  bisections: number
  gaveUp: number
  /** The longest a batch waited from its first invocation to its delivery (or giving up), ms. */
  longestBatchMs: number
}

interface ShardState {
  readonly parents: readonly string[]
  started: boolean
  finished: boolean
}

const POLL_INTERVAL_MS = 1_000
/** Empty polls in a row before a shard waits for a put (covers the stream's visibility delay). */
const IDLE_POLLS = 3
/** How long the mapping waits on a Kinesis call before it gives up on it. */
const KINESIS_CALL_TIMEOUT_MS = 5_000

export class SimulatedMapping {
  readonly stats: MappingStats = {
    invocations: 0,
    failedInvocations: 0,
    crashes: 0,
    bisections: 0,
    gaveUp: 0,
    longestBatchMs: 0,
  }
  readonly #o: SimulatedMappingOptions
  readonly #shards = new Map<string, ShardState>()
  /** One warm instance per shard poller (ParallelizationFactor 1), one for the queue. */
  readonly #instances = new Map<string, { handler: RelayHandler; alive: boolean }>()
  #stopped = false
  #waiting: (() => void)[] = []
  /** Puts (and reshards) so far: a poller idles only after empty polls with none between. */
  #puts = 0

  constructor(options: SimulatedMappingOptions) {
    this.#o = options
  }

  /** Runs in the background until `stop()`: discovers shards and polls each. */
  start(): void {
    void this.#discover()
  }

  stop(): void {
    this.#stopped = true
  }

  /** Something was put on the stream, or it was resharded: idle pollers look again. */
  notify(): void {
    this.#puts++
    const waiting = this.#waiting
    this.#waiting = []
    for (const wake of waiting) wake()
  }

  #changed(): Promise<void> {
    return new Promise((resolve) => this.#waiting.push(resolve))
  }

  async #sleep(ms: number): Promise<void> {
    await this.#o.time.sleep(ms)
    while (!this.#stopped && this.#o.time.now < this.#o.stalledUntil())
      await this.#o.time.sleep(this.#o.stalledUntil() - this.#o.time.now)
  }

  /** A Kinesis call under the mapping's own timeout. */
  async #kinesis<T>(send: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const controller = new AbortController()
    const timer = this.#o.time.setTimer(() => controller.abort(), KINESIS_CALL_TIMEOUT_MS)
    try {
      return await send(controller.signal)
    } finally {
      timer.cancelled = true
    }
  }

  async #discover(): Promise<void> {
    while (!this.#stopped) {
      const changed = this.#changed()
      try {
        const { Shards = [] } = await this.#kinesis((abortSignal) =>
          this.#o.kinesis.send(new ListShardsCommand({ StreamName: this.#o.stream }), {
            abortSignal,
          }),
        )
        for (const shard of Shards) {
          const id = shard.ShardId
          if (id === undefined || this.#shards.has(id)) continue
          const parents = [shard.ParentShardId, shard.AdjacentParentShardId].filter(
            (parent): parent is string => parent !== undefined,
          )
          this.#shards.set(id, { parents, started: false, finished: false })
        }
        for (const [id, shard] of this.#shards)
          if (
            !shard.started &&
            shard.parents.every((parent) => this.#shards.get(parent)?.finished ?? true)
          ) {
            shard.started = true
            void this.#poll(id, shard)
          }
      } catch {
        // Listed again on the next round.
        await this.#sleep(POLL_INTERVAL_MS * 2)
        continue
      }
      await changed
      await this.#sleep(POLL_INTERVAL_MS)
    }
  }

  async #poll(id: string, shard: ShardState): Promise<void> {
    const o = this.#o
    let checkpoint: string | undefined
    let iterator: string | undefined
    let empty = 0
    let puts = this.#puts
    while (!this.#stopped) {
      const changed = this.#changed()
      try {
        if (iterator === undefined) {
          const out = await this.#kinesis((abortSignal) =>
            o.kinesis.send(
              new GetShardIteratorCommand({
                StreamName: o.stream,
                ShardId: id,
                ...(checkpoint === undefined
                  ? { ShardIteratorType: 'TRIM_HORIZON' }
                  : {
                      ShardIteratorType: 'AFTER_SEQUENCE_NUMBER',
                      StartingSequenceNumber: checkpoint,
                    }),
              }),
              { abortSignal },
            ),
          )
          iterator = out.ShardIterator
        }
        const page = await this.#kinesis((abortSignal) =>
          o.kinesis.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: o.batchSize }), {
            abortSignal,
          }),
        )
        const records = page.Records ?? []
        if (records.length > 0) {
          await this.#deliver(id, records)
          checkpoint = records.at(-1)?.SequenceNumber
        }
        if (page.NextShardIterator == null) {
          shard.finished = true
          o.note(() => `mapping: ${id} read to its end`)
          // Its children may start now.
          this.notify()
          return
        }
        iterator = page.NextShardIterator
        // A put since the last look may not be readable yet (the stream's visibility delay):
        // count the empty polls again from it.
        empty = records.length === 0 && puts === this.#puts ? empty + 1 : 0
        puts = this.#puts
        if (records.length >= o.batchSize) continue
        if (empty >= IDLE_POLLS) await changed
      } catch {
        // Throttled, failed or expired: a new iterator from the checkpoint, after a pause.
        iterator = undefined
      }
      await this.#sleep(POLL_INTERVAL_MS * (0.8 + 0.4 * o.random()))
    }
  }

  /** Delivers a batch: retried; bisected on error; given up on to the queue past the retries. */
  async #deliver(shard: string, records: readonly _Record[], attempts = 0): Promise<void> {
    const o = this.#o
    const first = o.time.now
    for (;;) {
      const ok = await this.#invoke(shard, kinesisEvent(shard, records, o.stream) as RelayEvent)
      if (ok && o.random() < o.faults().redeliver) {
        o.note(() => `mapping: ${shard} delivers ${records.length} again`)
        continue
      }
      if (ok) break
      attempts++
      if (attempts > o.maxRetries) {
        this.stats.gaveUp++
        o.note(() => `mapping: ${shard} gives up on ${records.length} record(s): on-failure`)
        void this.#onFailure(shard, records)
        break
      }
      if (records.length > 1) {
        this.stats.bisections++
        const half = Math.ceil(records.length / 2)
        await this.#deliver(shard, records.slice(0, half), attempts)
        await this.#deliver(shard, records.slice(half), attempts)
        break
      }
      await this.#sleep(POLL_INTERVAL_MS * o.random())
    }
    this.stats.longestBatchMs = Math.max(this.stats.longestBatchMs, o.time.now - first)
  }

  /** The queue's message, delivered to the relay by the queue's mapping until it succeeds. */
  async #onFailure(shard: string, records: readonly _Record[]): Promise<void> {
    const o = this.#o
    await this.#sleep(o.random() * 1_000)
    while (!(await this.#invoke('queue', onFailureEvent(shard, records))))
      await this.#sleep(o.visibilityTimeoutMs)
  }

  /** One invocation; true when it succeeded. */
  async #invoke(slot: string, event: RelayEvent): Promise<boolean> {
    const o = this.#o
    const time = o.time
    this.stats.invocations++
    const faults = o.faults()
    if (o.random() < faults.throttle) {
      this.stats.failedInvocations++
      o.note(() => `mapping: ${slot} invocation throttled`)
      await this.#sleep(50)
      return false
    }
    let instance = this.#instances.get(slot)
    if (instance === undefined) {
      const fresh = { alive: true, handler: undefined as unknown as RelayHandler }
      fresh.handler = o.createRelay(() => fresh.alive)
      instance = fresh
      this.#instances.set(slot, instance)
    }
    const running = instance
    const deadline = time.now + o.functionTimeoutMs
    const crashAfterMs = o.random() < faults.crash ? o.random() * 300 : undefined
    const timers: { cancelled: boolean }[] = []
    const outcome = await new Promise<'ok' | 'failed' | 'died'>((resolve) => {
      // Whichever comes first decides: the function's timeout, a crash, or the handler.
      timers.push(time.setTimer(() => resolve('died'), o.functionTimeoutMs))
      if (crashAfterMs !== undefined)
        timers.push(time.setTimer(() => resolve('died'), crashAfterMs))
      running.handler(event, { getRemainingTimeInMillis: () => deadline - time.now }).then(
        () => resolve('ok'),
        () => resolve('failed'),
      )
    })
    for (const timer of timers) timer.cancelled = true
    if (outcome === 'died') {
      // Crashed or timed out: the runtime is gone; whatever it sent may still land.
      running.alive = false
      this.#instances.delete(slot)
      this.stats.crashes++
    }
    if (outcome !== 'ok') this.stats.failedInvocations++
    o.note(() => `mapping: ${slot} invocation ${outcome}`)
    return outcome === 'ok'
  }
}
