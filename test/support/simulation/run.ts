import type { AttributeValue } from '@aws-sdk/client-dynamodb'
import {
  createHeartbeat,
  createPublisher,
  createRelay,
  createScache,
  encodeRecord,
  type LogEntry,
  type Scache,
} from '../../../src/index.js'
import { dynamoDb } from '../../../src/log/client.js'
import { kinesisSdk } from '../../../src/stream/read-client.js'
import { seededRandom } from '../prng.js'
import { LOG_TABLE, noTableFaults, SimulatedLogTable, type TableFaults } from './dynamodb.js'
import { type Faults, noFaults, SimulatedStream } from './kinesis.js'
import { type MappingFaults, noMappingFaults, SimulatedMapping } from './mapping.js'
import { VirtualTime } from './time.js'

/**
 * One seed of the deterministic simulation: a small world in virtual time, drawn from the seed.
 * Containers (each a real `createScache`, its clock injected) serve requests that read keys with
 * `get` and `getOrLoad`; writers change a key in the source and publish its invalidation; a
 * hostile writer puts garbage; chaos splits and merges shards, recreates the stream, steps a
 * container's clock, and turns fault storms on and off; containers freeze between requests for
 * seconds to a day. After every read that served a value from the cache, the bounds below are
 * checked against the acknowledged writes.
 */

/**
 * Log mode (`mode: 'log'`): containers read the log table (the real LogSource over a simulated
 * DynamoDB, test/support/simulation/dynamodb.ts) that the real relay fills, driven as Lambda's
 * event source mapping drives it (mapping.ts), with the heartbeat beating through the stream.
 * Besides the faults above: relay invocations that crash midway, are throttled, or are delivered
 * again; the mapping stalled; the table throttled, failing, hanging or unreachable for a while;
 * entries deleted by TTL (in any order) under frozen containers; malformed items put in the table
 * by hand. The stream is not recreated in log mode (the mapping would be deleted with it).
 * Checked after every read served from the cache, R being when the first entry evicting the
 * key appeared in the container's copy after the write (the log's own record):
 * - `relayed`: served ≤ `maxStalenessMs` after R;
 * - `healthy-bound` ('bypass'): the request began ≤ `pollIntervalMs` after R;
 * - `max-staleness`, on a stream that has had one shard (as docs/log-table.md states the bound):
 *   served ≤ `maxStalenessMs` after the write was acknowledged, relay lag included;
 * and at the end, after the world has run calm for a while: `lost`, an acknowledged invalidation
 * that never reached a copy of the log.
 */

/** Where virtual time starts: a plausible wall clock, so that timestamps look like Kinesis'. */
const EPOCH_MS = Date.UTC(2026, 0, 1)
const SECRET = 'simulation-secret-0123456789'
const CLOCK_SKEW_MS = 5_000
/** No request or publish in a world runs this long: each has a deadline well inside it. */
const STEP_LIMIT_MS = 15 * 60_000

export type ViolationKind =
  /** Served a value invalidated more than `maxStalenessMs` (+ visibility delay) before the read. */
  | 'max-staleness'
  /** Served a value whose invalidation was readable before the container's claimed sync point. */
  | 'synced'
  /** `'bypass'`: served a value invalidated more than `pollIntervalMs` before the request began. */
  | 'healthy-bound'
  /** Log mode: served more than `maxStalenessMs` after the log held the key's invalidation. */
  | 'relayed'
  /** Log mode: an acknowledged invalidation never reached a copy of the log. */
  | 'lost'
  /** Log mode: the relay appended below a copy's head, where readers past it never look. */
  | 'below-head'
  /** A request never finished: something awaited without a deadline. */
  | 'stuck'
  /** `begin`, `get` or `end` threw. */
  | 'threw'

export interface Violation {
  readonly kind: ViolationKind
  readonly detail: string
}

export interface SeedReport {
  readonly seed: number
  readonly violations: readonly Violation[]
  readonly reads: number
  /** Reads answered from the cache (checked against the bounds). */
  readonly served: number
  readonly writes: number
  readonly acknowledged: number
  readonly virtualMs: number
  /** Timers fired: the simulation's steps. */
  readonly events: number
  readonly config: string
  readonly trace: readonly string[]
}

export type SimulationMode = 'direct' | 'log'

export interface SimulationOptions {
  /** Containers read the stream (`direct`, the default) or the log table (`log`). */
  readonly mode?: SimulationMode
  /** Hostile records on the stream (garbage, deep and huge JSON, wrong signatures, proto keys). */
  readonly hostileRecords?: boolean
  /**
   * Clock steps back of up to 10 minutes, instead of under the reader's 60 s identity-check gap.
   * Off by default: a container frozen while its stream is recreated, whose clock steps back by
   * less than the freeze but more than a minute, cannot tell the gap and serves values whose
   * invalidations went with the old stream (seed 7651 with this on; docs/guarantees.md).
   */
  readonly largeClockSteps?: boolean
  /** Delete the stream and create it again under the same name now and then. Default true. */
  readonly recreateStream?: boolean
  /**
   * Breaks a container on purpose, to show that the checks catch it: `drop-invalidations` skips
   * every record (a decoder that claims them all; in log mode, the relay's), `serve-stale-as-bypass`
   * runs `'serve-stale'` while the checks hold it to `'bypass'`.
   */
  readonly sabotage?: 'drop-invalidations' | 'serve-stale-as-bypass'
  /**
   * Log mode: the mapping's MaximumRetryAttempts. Unlimited by default: a batch the mapping gives
   * up on is overtaken by the shard's later batches until its on-failure `all` lands, which the
   * one-shard bound does not survive (docs/log-table.md).
   */
  readonly mappingRetries?: number
  /** Keep a line per event in the report's `trace` (for replaying one seed). */
  readonly trace?: boolean
}

interface Write {
  readonly version: number
  /** When the source changed (before the invalidation was published), true time. */
  readonly bumpedAt: number
  /** When the invalidation was acknowledged (publish resolved), true time. */
  ackedAt: number | undefined
}

interface Value {
  readonly key: string
  readonly version: number
}

interface ClockStep {
  readonly at: number
  readonly deltaMs: number
}

/** The relay and its mapping, as drawn for a log-mode world. */
interface LogWorld {
  readonly copies: number
  readonly heartbeatIntervalMs: number
  readonly batchSize: number
  readonly maxRetries: number
  readonly functionTimeoutMs: number
  readonly appendTimeoutMs: number
  readonly retentionMs: number
  readonly relaySkewMs: number
  readonly tableStorm: TableFaults
  readonly mappingStorm: MappingFaults
}

/** Whether an entry evicts `key`. */
const evicts = (entry: LogEntry, key: string): boolean =>
  entry.all || entry.keys.includes(key) || entry.prefixes.some((prefix) => key.startsWith(prefix))

const pick = <T>(random: () => number, items: readonly T[]): T =>
  items[Math.floor(random() * items.length)] as T

const between = (random: () => number, min: number, max: number): number =>
  min + random() * (max - min)

/** A gap between two events of a process: mostly short, sometimes a freeze. */
const gapMs = (random: () => number): number => {
  const draw = random()
  if (draw < 0.75) return between(random, 1, 1_500)
  if (draw < 0.9) return between(random, 1_500, 20_000)
  // Past the iterator's 5 minutes, and past retention.
  if (draw < 0.97) return between(random, 20_000, 900_000)
  return between(random, 3_600_000, 26 * 3_600_000)
}

export const runSeed = async (
  seed: number,
  options: SimulationOptions = {},
): Promise<SeedReport> => {
  const logMode = options.mode === 'log'
  // Loaded before the world starts: a module loading inside it would finish in real time, at a
  // different virtual moment from one run to the next.
  // (Under tsx a dynamic import goes through its loader thread even when the module is loaded.)
  await kinesisSdk()
  if (logMode) await dynamoDb()
  const random = seededRandom(seed)
  const time = new VirtualTime(EPOCH_MS)
  const violations: Violation[] = []
  const trace: string[] = []
  const note = (line: () => string) => {
    if (options.trace === true) trace.push(`+${(time.now - EPOCH_MS).toFixed(1)} ${line()}`)
  }
  const violate = (kind: ViolationKind, detail: string) => {
    note(() => `VIOLATION ${kind}: ${detail}`)
    if (violations.length < 20) violations.push({ kind, detail })
  }

  // The world's shape, drawn from the seed.
  const pollIntervalMs = pick(random, [0, 200, 1_000, 3_000])
  // In log mode a bound under the heartbeat's interval would only ever bypass.
  const maxStalenessMs = pick(
    random,
    (logMode ? [3_000, 10_000, 30_000] : [1_000, 3_000, 10_000, 30_000]).filter(
      (ms) => ms >= pollIntervalMs,
    ),
  )
  const onStreamError =
    options.sabotage === 'serve-stale-as-bypass'
      ? 'bypass'
      : pick(random, ['bypass', 'serve-stale'] as const)
  const pollBudgetMs = pick(random, [100, 500, 1_000])
  const visibilityDelayMs = pick(random, [0, 50, 500, 1_000])
  const signed = random() < 0.4
  const ttlMinMs = pick(random, [500, 5_000, 60_000])
  const ttl = { minMs: ttlMinMs, maxMs: ttlMinMs * pick(random, [1, 2]) }
  const staleIfErrorMs = pick(random, [0, 0, 5_000, 60_000])
  const loadTimeoutMs = pick(random, [300, 2_000, 10_000])
  const maxPagesPerShard = pick(random, [1, 2, 5])
  const breaker = random() < 0.3
  const containerCount = 1 + Math.floor(random() * 3)
  const keyCount = 2 + Math.floor(random() * 6)
  const requestsPerContainer = 10 + Math.floor(random() * 25)
  const writesPlanned = 5 + Math.floor(random() * 25)
  const stormy = random()
  const calm: Faults = noFaults
  const storm: Faults =
    stormy < 0.3
      ? noFaults
      : {
          throttle: between(random, 0, 0.2),
          serverError: between(random, 0, 0.2),
          reset: between(random, 0, 0.1),
          hang: between(random, 0, 0.1),
          expired: between(random, 0, 0.1),
          putFailure: between(random, 0, 0.2),
        }
  let faults = random() < 0.5 ? calm : storm
  const initialShards = 1 + Math.floor(random() * 3)
  const stream = new SimulatedStream({
    name: 'invalidations',
    shards: initialShards,
    time,
    random,
    visibilityDelayMs,
    childShards: random() < 0.5,
    onPut: (shardId) => {
      note(() => `put on ${shardId}`)
      mapping?.notify()
    },
  })
  const logWorld: LogWorld | undefined = logMode
    ? {
        copies: pick(random, [1, 1, 2]),
        heartbeatIntervalMs: pick(random, [1_000, 5_000]),
        batchSize: pick(random, [1, 3, 100]),
        maxRetries: options.mappingRetries ?? Number.POSITIVE_INFINITY,
        functionTimeoutMs: pick(random, [5_000, 60_000]),
        appendTimeoutMs: pick(random, [1_000, 30_000]),
        retentionMs: pick(random, [3_600_000, 24 * 3_600_000]),
        // Within the containers' clockSkewMs, with their own forward steps.
        relaySkewMs: between(random, -500, 500),
        tableStorm: {
          throttle: between(random, 0, 0.3),
          serverError: between(random, 0, 0.2),
          reset: between(random, 0, 0.1),
          hang: between(random, 0, 0.05),
        },
        mappingStorm: {
          crash: between(random, 0, 0.2),
          throttle: between(random, 0, 0.2),
          redeliver: between(random, 0, 0.2),
        },
      }
    : undefined
  const stormyWorld = logWorld === undefined ? false : stormy >= 0.3
  const tableFaults = (): TableFaults =>
    logWorld !== undefined && stormyWorld && faults === storm ? logWorld.tableStorm : noTableFaults
  const mappingFaults = (): MappingFaults =>
    logWorld !== undefined && stormyWorld && faults === storm
      ? logWorld.mappingStorm
      : noMappingFaults
  const table =
    logWorld === undefined
      ? undefined
      : new SimulatedLogTable({
          time,
          random,
          copies: logWorld.copies,
          batchMs: logWorld.functionTimeoutMs,
          note,
        })
  let mappingStalledUntil = Number.NEGATIVE_INFINITY
  // Set below, once the stream (which wakes it) exists.
  let mapping: SimulatedMapping | undefined
  let firstReshardAt = Number.POSITIVE_INFINITY
  const config = JSON.stringify({
    mode: logMode ? 'log' : 'direct',
    pollIntervalMs,
    maxStalenessMs,
    onStreamError,
    pollBudgetMs,
    visibilityDelayMs,
    signed,
    ttl,
    staleIfErrorMs,
    loadTimeoutMs,
    maxPagesPerShard,
    breaker,
    containers: containerCount,
    keys: keyCount,
    storm: stormy >= 0.3,
    shards: initialShards,
    ...(logWorld === undefined
      ? {}
      : {
          copies: logWorld.copies,
          heartbeatIntervalMs: logWorld.heartbeatIntervalMs,
          batchSize: logWorld.batchSize,
          functionTimeoutMs: logWorld.functionTimeoutMs,
          appendTimeoutMs: logWorld.appendTimeoutMs,
          retentionMs: logWorld.retentionMs,
        }),
  })
  const latencyMs = () => between(random, 1, 30)
  const tableLatencyMs = () => between(random, 2, 10)

  // The source of truth: each key's current version, and every write's acknowledgement.
  const keys = Array.from({ length: keyCount }, (_, i) => `items:${i}`)
  const versions = new Map<string, number>(keys.map((key) => [key, 0]))
  const writes = new Map<string, Write[]>(keys.map((key) => [key, []]))
  /** When the first acknowledged write that replaced `version` of `key` was acknowledged. */
  const overtakenAt = (key: string, version: number): number | undefined => {
    let at: number | undefined
    for (const write of writes.get(key) ?? [])
      if (write.version > version && write.ackedAt !== undefined)
        at = at === undefined ? write.ackedAt : Math.min(at, write.ackedAt)
    return at
  }
  /** Bumps the keys' versions in the source (before the invalidation is published). */
  const bump = (affected: readonly string[]): Write[] =>
    affected.map((key) => {
      const write: Write = {
        version: (versions.get(key) ?? 0) + 1,
        bumpedAt: time.now,
        ackedAt: undefined,
      }
      versions.set(key, write.version)
      note(() => `write ${key} v${write.version}`)
      writes.get(key)?.push(write)
      return write
    })
  let writeCount = 0
  let acknowledged = 0
  const acknowledge = (done: readonly Write[]) => {
    note(() => `acknowledged v${done.map((w) => w.version).join(',')}`)
    for (const write of done) write.ackedAt = time.now
    acknowledged++
  }

  let reads = 0
  let served = 0
  let running = 0

  interface Container {
    readonly id: number
    readonly instance: Scache
    offsetMs: number
    /** The most its clock was ever ahead (0 at least): for the bounds of log mode. */
    maxOffsetMs: number
    readonly steps: ClockStep[]
  }

  /** A container's clock offset at true time `at`: the sum of its steps until then. */
  const offsetAt = (container: Container, at: number): number => {
    let offset = 0
    for (const step of container.steps) if (step.at <= at) offset += step.deltaMs
    return offset
  }

  /**
   * When, in true time, the container's cache was last synced, by its own account
   * (`stats().stalenessMs` on its clock), and how far its clock has stepped back since: with
   * steps, one clock reading may name several true times, and the earliest is taken (the one
   * that asks least of scache). A container can only keep its bounds on its own clock, so the
   * bounds below grow by the net backward step since its sync (`backMs`).
   */
  const syncOf = (container: Container): { readonly at: number; readonly backMs: number } => {
    const now = time.now
    const reading = now + container.offsetMs - container.instance.stats().stalenessMs
    // The clock is t + offset, piecewise: find the earliest piece holding the reading.
    const starts = [EPOCH_MS, ...container.steps.map((step) => step.at), now]
    let offset = 0
    let at = now - container.instance.stats().stalenessMs
    for (let i = 0; i < starts.length - 1; i++) {
      if (i > 0) offset += (container.steps[i - 1] as ClockStep).deltaMs
      const t = reading - offset
      if (t >= (starts[i] as number) - 1e-6 && t <= (starts[i + 1] as number) + 1e-6) {
        at = t
        break
      }
    }
    return { at, backMs: Math.max(0, offsetAt(container, at) - container.offsetMs) }
  }

  /**
   * The checks, for a value served from the cache at true time `readAt` in a request that began
   * at `begunAt`, when the container said it was synced as of `begunSync`. `ackedAt`: when the
   * first acknowledged write that replaced the value was acknowledged; V: the stream's visibility
   * delay; S: the container's last sync, in true time; D: its clock's net step back since then.
   */
  const check = (
    container: Container,
    value: Value,
    begunAt: number,
    begunSync: ReturnType<typeof syncOf>,
    how: string,
  ) => {
    served++
    const readAt = time.now
    note(() => `c${container.id} ${how} served ${value.key} v${value.version}`)
    const ackedAt = overtakenAt(value.key, value.version)
    if (ackedAt === undefined) return
    if (table !== undefined) return checkLog(container, value, begunAt, ackedAt, how)
    const V = visibilityDelayMs
    const sync = syncOf(container)
    const describe = () =>
      `container ${container.id} ${how} ${value.key} v${value.version} at +${readAt - EPOCH_MS} ms ` +
      `(request began +${begunAt - EPOCH_MS}), replaced by a write acknowledged at ` +
      `+${ackedAt - EPOCH_MS} ms`
    // 1. Under any fault: readAt − ackedAt ≤ maxStalenessMs + V + D.
    const hard = maxStalenessMs + V + sync.backMs
    if (readAt - ackedAt > hard)
      violate('max-staleness', `${describe()}: ${readAt - ackedAt} ms stale > ${hard} ms`)
    // 2. No lost invalidation: every invalidation readable when the poll the cache claims to be
    //    synced with began (ackedAt + V ≤ S) was applied.
    if (ackedAt + V <= sync.at)
      violate(
        'synced',
        `${describe()}: the cache claims to be synced as of +${sync.at - EPOCH_MS} ms`,
      )
    // 3. 'bypass' serves only after a successful poll that began less than pollIntervalMs
    //    before the request (or during it): begunAt − ackedAt ≤ pollIntervalMs + V + D.
    if (onStreamError === 'bypass') {
      const bound = pollIntervalMs + V + begunSync.backMs
      if (begunAt - ackedAt > bound)
        violate(
          'healthy-bound',
          `${describe()}: acknowledged ${begunAt - ackedAt} ms before the request > ${bound} ms`,
        )
    }
  }

  /**
   * Log mode: when the first entry evicting `key` appeared in `copy` after the first acknowledged
   * write that replaced `version` changed the source (any eviction after that point leaves only
   * newer values to load); undefined while there is none.
   */
  const relayedAt = (key: string, version: number, copy: number): number | undefined => {
    let from: number | undefined
    for (const write of writes.get(key) ?? [])
      if (write.version > version && write.ackedAt !== undefined)
        from = from === undefined ? write.bumpedAt : Math.min(from, write.bumpedAt)
    const appended = table?.appended[copy]
    if (from === undefined || appended === undefined) return undefined
    let low = 0
    let high = appended.length
    while (low < high) {
      const mid = (low + high) >>> 1
      if ((appended[mid]?.at ?? 0) < from) low = mid + 1
      else high = mid
    }
    for (let i = low; i < appended.length; i++) {
      const each = appended[i]
      if (each !== undefined && evicts(each.entry, key)) return each.at
    }
    return undefined
  }

  /**
   * The checks of log mode (see the top of this file). D: how far the container's clock is now
   * behind the furthest ahead it ever was; its bounds are kept on its own clock, and its sync
   * point may be on its clock (a poll's start) or on Kinesis' (an entry's `upTo`).
   */
  const checkLog = (
    container: Container,
    value: Value,
    begunAt: number,
    ackedAt: number,
    how: string,
  ) => {
    const readAt = time.now
    const D = Math.max(0, container.maxOffsetMs - container.offsetMs)
    const copy = Number(container.instance.positions()[0]?.shardId.replace('log#', ''))
    const describe = () =>
      `container ${container.id} (copy ${copy}) ${how} ${value.key} v${value.version} at ` +
      `+${readAt - EPOCH_MS} ms (request began +${begunAt - EPOCH_MS}), replaced by a write ` +
      `acknowledged at +${ackedAt - EPOCH_MS} ms`
    const relayed = relayedAt(value.key, value.version, copy)
    if (relayed !== undefined && relayed <= readAt) {
      if (readAt - relayed > maxStalenessMs + D)
        violate(
          'relayed',
          `${describe()}, in the log since +${relayed - EPOCH_MS} ms: ` +
            `${readAt - relayed} ms > ${maxStalenessMs + D} ms`,
        )
      if (onStreamError === 'bypass' && begunAt - relayed > pollIntervalMs + D)
        violate(
          'healthy-bound',
          `${describe()}, in the log since +${relayed - EPOCH_MS} ms: the request began ` +
            `${begunAt - relayed} ms after > ${pollIntervalMs + D} ms`,
        )
    }
    // One shard, in order: the log's `upTo` covers the invalidation only once it is relayed.
    if (initialShards === 1 && ackedAt < firstReshardAt && readAt - ackedAt > maxStalenessMs + D)
      violate(
        'max-staleness',
        `${describe()}: ${readAt - ackedAt} ms stale > ${maxStalenessMs + D} ms (one shard)`,
      )
  }

  const publisher = (client: ReturnType<SimulatedStream['client']>) =>
    createPublisher({
      streamName: stream.name,
      client,
      maxAttempts: 3,
      ...(signed ? { secret: SECRET } : {}),
    })

  const newContainer = (id: number): Container => {
    const clock = { offsetMs: 0 }
    const container: Container = {
      id,
      get offsetMs() {
        return clock.offsetMs
      },
      set offsetMs(ms: number) {
        clock.offsetMs = ms
      },
      maxOffsetMs: 0,
      steps: [],
      instance: createScache({
        stream: { name: stream.name, client: stream.client(() => faults, latencyMs) },
        ...(table === undefined || logWorld === undefined
          ? {}
          : {
              logTable: {
                name: LOG_TABLE,
                copies: logWorld.copies,
                client: table.client(tableFaults, tableLatencyMs),
              },
            }),
        clock: { now: () => time.now + clock.offsetMs, random },
        pollIntervalMs,
        maxStalenessMs,
        onStreamError: options.sabotage === 'serve-stale-as-bypass' ? 'serve-stale' : onStreamError,
        pollBudgetMs,
        ttl,
        staleIfErrorMs,
        loadTimeoutMs,
        maxPagesPerShard,
        clockSkewMs: CLOCK_SKEW_MS,
        ...(signed ? { secret: SECRET } : {}),
        ...(breaker ? { circuitBreaker: { failures: 3, resetMs: 2_000 } } : {}),
        publisher: publisher(stream.client(() => faults, latencyMs)),
        log: false,
        ...(options.sabotage === 'drop-invalidations'
          ? {
              decoders: [
                {
                  name: 'sabotage',
                  decode: () => ({ ok: false as const, reason: 'empty' as const }),
                },
              ],
            }
          : {}),
      }),
    }
    return container
  }

  /** A loader: the source's version when it starts; normal, slow, failing or hung. */
  const loader = (key: string, produced: Set<Value>) => async (): Promise<Value> => {
    const value: Value = { key, version: versions.get(key) ?? 0 }
    produced.add(value)
    const draw = random()
    if (draw < 0.8) await time.sleep(between(random, 1, 50))
    else if (draw < 0.9) await time.sleep(between(random, 100, 15_000))
    else if (draw < 0.96) {
      await time.sleep(between(random, 1, 500))
      throw new Error('source failed')
    } else await new Promise<never>(() => {})
    return value
  }

  const request = async (container: Container) => {
    const begunAt = time.now
    const deadline = begunAt + pick(random, [3_000, 10_000, 30_000])
    const context = {
      awsRequestId: `r${begunAt}`,
      getRemainingTimeInMillis: () => Math.max(0, deadline - time.now),
    }
    const invocation = await container.instance.begin(context)
    const begunSync = syncOf(container)
    note(() => {
      const poll = invocation.poll
      const stats = container.instance.stats()
      return (
        `c${container.id} begin (clock ${container.offsetMs.toFixed(0)}): ` +
        (poll === undefined
          ? 'no poll'
          : `poll ok=${poll.ok} records=${poll.records} restarted=${poll.restarted} ` +
            `errors=${poll.errors.map((e) => e.name).join(',')}`) +
        ` staleness=${stats.stalenessMs.toFixed(0)} bypassing=${stats.bypassing} entries=${stats.entries}`
      )
    })
    const ops = 1 + Math.floor(random() * 4)
    for (let op = 0; op < ops; op++) {
      const key = pick(random, keys)
      const draw = random()
      reads++
      if (draw < 0.3) {
        const value = invocation.cache.get<Value>(key)
        if (value !== undefined) check(container, value, begunAt, begunSync, 'get')
      } else if (draw < 0.85) {
        const produced = new Set<Value>()
        try {
          const value = await invocation.cache.getOrLoad(key, loader(key, produced))
          // A value this call's own loader read is fresh from the source; anything else came
          // from the cache (a hit, or stale-if-error).
          if (!produced.has(value)) check(container, value, begunAt, begunSync, 'getOrLoad')
        } catch {
          // A failed, timed-out or refused load with nothing to fall back on.
        }
      } else if (draw < 0.93) {
        // A long handler: later reads in this invocation come after it.
        await time.sleep(between(random, 100, 8_000))
      } else {
        // A write from the handler: the source, then `invalidate` (local evict, then publish).
        const done = bump([key])
        writeCount++
        try {
          await invocation.cache.invalidate(key)
          acknowledge(done)
        } catch {
          // Not acknowledged: no promise covers it.
        }
      }
    }
    const line = invocation.end()
    note(
      () =>
        `c${container.id} end: hits=${line.hits} misses=${line.misses} bypassed=${line.bypassed} ` +
        `evicted=${line.evicted} cleared=${line.cleared} repolls=${line.repolls}`,
    )
  }

  const containers = Array.from({ length: containerCount }, (_, id) => newContainer(id))
  /** When each container next wakes (its next request), true time. */
  const wakeAt = containers.map(() => time.now)

  /** A sleep in virtual time that ends early when `signal` aborts (the relay's `sleep`). */
  const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
    new Promise((resolve) => {
      if (signal?.aborted) return resolve()
      const timer = time.setTimer(resolve, ms)
      signal?.addEventListener(
        'abort',
        () => {
          timer.cancelled = true
          resolve()
        },
        { once: true },
      )
    })

  // Log mode's machinery, all in the background (the world ends when the containers are done):
  // the relay on the stream's mapping, the heartbeat's schedule, TTL deletion.
  if (table !== undefined && logWorld !== undefined) {
    const sabotage =
      options.sabotage === 'drop-invalidations'
        ? {
            decoders: [
              {
                name: 'sabotage',
                decode: () => ({ ok: false as const, reason: 'empty' as const }),
              },
            ],
          }
        : {}
    mapping = new SimulatedMapping({
      time,
      random,
      stream: stream.name,
      kinesis: stream.client(() => faults, latencyMs),
      createRelay: (alive) =>
        createRelay({
          table: LOG_TABLE,
          copies: logWorld.copies,
          client: table.client(tableFaults, tableLatencyMs, alive),
          appendTimeoutMs: logWorld.appendTimeoutMs,
          retentionMs: logWorld.retentionMs,
          ...(signed ? { secret: SECRET } : {}),
          ...sabotage,
          now: () => time.now + logWorld.relaySkewMs,
          sleep,
          random,
          log: () => {},
        }),
      batchSize: logWorld.batchSize,
      maxRetries: logWorld.maxRetries,
      functionTimeoutMs: logWorld.functionTimeoutMs,
      visibilityTimeoutMs: 120_000,
      faults: mappingFaults,
      stalledUntil: () => mappingStalledUntil,
      note,
    })
    mapping.start()
    const heartbeat = createHeartbeat({
      stream: stream.name,
      intervalMs: logWorld.heartbeatIntervalMs,
      client: stream.client(() => faults, latencyMs),
      sleep,
    })
    void (async () => {
      for (;;) {
        // EventBridge invokes it every minute. While every container is frozen for minutes, the
        // schedule is let off until a minute before the first thaw (nothing could tell).
        const thaw = Math.min(...wakeAt)
        // Every container is done: no one is left to read the log.
        if (thaw === Number.POSITIVE_INFINITY) return
        if (thaw - time.now > 3 * 60_000) await time.sleep(thaw - time.now - 60_000)
        void heartbeat(undefined, { getRemainingTimeInMillis: () => 70_000 })
        await time.sleep(60_000)
      }
    })()
    void (async () => {
      for (;;) {
        await time.sleep(between(random, 60_000, 600_000))
        const removed = table.sweep(0.5)
        if (removed > 0) note(() => `TTL deleted ${removed} entries`)
      }
    })()
  }

  const spawn = (name: string, body: () => Promise<void>) => {
    running++
    body().then(
      () => {
        running--
      },
      (error: unknown) => {
        running--
        violate('threw', `${name}: ${error instanceof Error ? error.stack : String(error)}`)
      },
    )
  }

  /**
   * What each process is doing and since when, for work that must end by a deadline (a request,
   * a publish). A step still running STEP_LIMIT_MS later waited on something without one: the
   * run stops there and names it, instead of running virtual time on forever (the heartbeat and
   * the mapping keep it moving).
   */
  const busy = new Map<string, { readonly what: string; readonly since: number }>()
  const step = async <T>(name: string, what: string, work: () => Promise<T>): Promise<T> => {
    busy.set(name, { what, since: time.now })
    try {
      return await work()
    } finally {
      busy.delete(name)
    }
  }
  const stuck = (): string | undefined => {
    for (const [name, { what, since }] of busy)
      if (time.now - since > STEP_LIMIT_MS)
        return `${name}: ${what} began at +${since - EPOCH_MS} ms and never ended`
    return undefined
  }

  let finished = 0
  for (const container of containers)
    spawn(`container ${container.id}`, async () => {
      for (let n = 0; n < requestsPerContainer; n++) {
        const gap = gapMs(random)
        wakeAt[container.id] = time.now + gap
        await time.sleep(gap)
        await step(`container ${container.id}`, `request ${n}`, () => request(container))
      }
      wakeAt[container.id] = Number.POSITIVE_INFINITY
      finished++
    })

  const writerPublisher = publisher(stream.client(() => faults, latencyMs))
  spawn('writer', async () => {
    for (let n = 0; n < writesPlanned && finished < containerCount; n++) {
      await time.sleep(gapMs(random))
      const draw = random()
      writeCount++
      try {
        if (draw < 0.85) {
          const key = pick(random, keys)
          const done = bump([key])
          await step('writer', 'publish', () => writerPublisher.invalidate(key))
          acknowledge(done)
        } else if (draw < 0.95) {
          const done = bump(keys.filter((key) => key.startsWith('items:1')))
          await step('writer', 'publish', () => writerPublisher.invalidatePrefix('items:1'))
          acknowledge(done)
        } else {
          const done = bump(keys)
          await step('writer', 'publish', () => writerPublisher.invalidateAll())
          acknowledge(done)
        }
      } catch {
        // Not acknowledged.
      }
    }
  })

  if (options.hostileRecords !== false)
    spawn('hostile writer', async () => {
      while (finished < containerCount) {
        await time.sleep(gapMs(random) * 3)
        stream.put(pick(random, hostileRecords()))
      }
    })

  const resharded = () => {
    firstReshardAt = Math.min(firstReshardAt, time.now)
    mapping?.notify()
  }

  /** Log mode's own faults: the table down, the mapping stalled, a malformed item in the table. */
  const logChaos = (log: SimulatedLogTable) => {
    const draw = random()
    if (draw < 0.35) {
      const forMs = between(random, 1_000, 60_000)
      const how = random() < 0.5 ? 'refused' : 'hang'
      log.down(forMs, how)
      note(() => `table down (${how}) for ${forMs.toFixed(0)} ms`)
    } else if (draw < 0.7) {
      const forMs = between(random, 5_000, 120_000)
      mappingStalledUntil = time.now + forMs
      note(() => `mapping stalled for ${forMs.toFixed(0)} ms`)
    } else {
      const copy = Math.floor(random() * (logWorld?.copies ?? 1))
      const head = log.head(copy)
      const item = pick(random, hostileItems(`log#${copy}`, head))
      log.putRaw(item)
      note(() => `hostile item ${JSON.stringify(item)}`)
    }
  }

  spawn('chaos', async () => {
    while (finished < containerCount) {
      await time.sleep(gapMs(random) * 4)
      if (table !== undefined && random() < 0.4) {
        logChaos(table)
        continue
      }
      const draw = random()
      if (draw < 0.25) {
        faults = faults === calm ? storm : calm
        note(() => `faults ${faults === calm ? 'calm' : 'storm'}`)
      } else if (draw < 0.4) {
        const split = stream.split()
        if (split) resharded()
        note(() => `split: ${split}`)
      } else if (draw < 0.5) {
        const merged = stream.merge()
        if (merged) resharded()
        note(() => `merge: ${merged}`)
      } else if (draw < 0.55 && options.recreateStream !== false && table === undefined) {
        // Deleting a stream and creating it again takes Kinesis over a minute (the reader's
        // identity check relies on it).
        const gap = between(random, 60_000, 300_000)
        stream.recreate(gap)
        note(() => `stream recreated, back in ${gap.toFixed(0)} ms`)
      } else {
        // A clock step: back (under a minute, or up to 10), or forward within the skew margin.
        const container = pick(random, containers)
        const deltaMs =
          random() < 0.5
            ? -between(random, 1, options.largeClockSteps === true ? 600_000 : 50_000)
            : between(random, 0, Math.max(0, CLOCK_SKEW_MS - 1_000 - container.offsetMs))
        container.offsetMs += deltaMs
        container.maxOffsetMs = Math.max(container.maxOffsetMs, container.offsetMs)
        container.steps.push({ at: time.now, deltaMs })
        note(() => `c${container.id} clock steps ${deltaMs.toFixed(0)} ms`)
      }
    }
  })

  const startedAt = time.now
  time.install(seededRandom(seed ^ 0x5eed))
  try {
    const settled = await time.run(
      Number.POSITIVE_INFINITY,
      () => running === 0 || stuck() !== undefined,
    )
    const hung = stuck()
    if (hung !== undefined) violate('stuck', `${hung} (something waited without a deadline)`)
    else if (!settled)
      violate('stuck', `${running} processes never finished (something waited without a deadline)`)
    if (table !== undefined && logWorld !== undefined) {
      // The relay never drops an invalidation: calm, the world runs on until every acknowledged
      // one reached every copy of the log (or an `all` after it did), for up to half an hour.
      faults = calm
      mappingStalledUntil = Number.NEGATIVE_INFINITY
      table.down(0, 'refused')
      const unrelayed = () => {
        const missing: string[] = []
        for (const [key, list] of writes)
          for (const write of list)
            if (write.ackedAt !== undefined)
              for (let copy = 0; copy < logWorld.copies; copy++)
                if (relayedAt(key, write.version - 1, copy) === undefined)
                  missing.push(`${key} v${write.version} (copy ${copy})`)
        return missing
      }
      const calmFrom = time.now
      await time.run(time.now + 30 * 60_000, () => unrelayed().length === 0)
      const missing = unrelayed()
      if (missing.length > 0)
        violate(
          'lost',
          `never reached the log, ${((time.now - calmFrom) / 1_000).toFixed(0)} s after the ` +
            `world calmed: ${missing.slice(0, 5).join(', ')}`,
        )
      mapping?.stop()
      for (const { copy, entry, at } of table.belowHead.slice(0, 5))
        violate(
          'below-head',
          `copy ${copy} seq ${entry.seq} appended at +${at - EPOCH_MS} ms, below its head`,
        )
    }
  } finally {
    time.uninstall()
  }
  return {
    seed,
    violations,
    reads,
    served,
    writes: writeCount,
    acknowledged,
    virtualMs: time.now - startedAt,
    events: time.fired,
    config,
    trace,
  }
}

/**
 * Items no relay writes, put in the table by hand at (or near) a copy's head: wrong types,
 * strange seqs, a jump far ahead. Containers read each as `all`, skip it, or restart.
 */
const hostileItems = (pk: string, head: number): Record<string, AttributeValue>[] => [
  { pk: { S: pk }, seq: { N: String(head + 1) }, keys: { S: 'items:0' } },
  { pk: { S: pk }, seq: { N: String(head + 1) }, keys: { L: [{ N: '1' }] }, all: { S: 'yes' } },
  { pk: { S: pk }, seq: { N: String(head + 1) } },
  { pk: { S: pk }, seq: { N: String(head + 0.5) }, all: { BOOL: true } },
  { pk: { S: pk }, seq: { N: String(head + 1_000) }, keys: { L: [{ S: '__proto__' }] } },
  { pk: { S: pk }, seq: { N: String(head + 1) }, expiresAt: { N: '1' }, upTo: { N: 'NaN' } },
]

const text = (s: string): Uint8Array => new TextEncoder().encode(s)
const nested = (depth: number): string => `${'['.repeat(depth)}${']'.repeat(depth)}`

/**
 * Records no honest writer puts, each of a kind that has broken a decoder somewhere; built once
 * (the big ones cost more to build than to read).
 */
let hostile: readonly Uint8Array[] | undefined
const hostileRecords = (): readonly Uint8Array[] => {
  const garbage = seededRandom(7)
  hostile ??= [
    Uint8Array.from({ length: 1_500 }, () => Math.floor(garbage() * 256)),
    // Invalid UTF-8.
    Uint8Array.from([0x7b, 0xc3, 0x28, 0xff, 0xfe, 0x7d]),
    // Deep nesting where a signature check or a size estimate would recurse.
    text(`{"v":1,"keys":${nested(20_000)},"sig":"AAAA"}`),
    text(`{"v":1,"keys":["items:0"],"prefixes":${nested(5_000)},"all":false}`),
    // Huge: a key far past the longest allowed, and many entries.
    text(JSON.stringify({ v: 1, keys: ['x'.repeat(200_000)], all: false, at: 0 })),
    text(`{"v":1,"keys":[${Array.from({ length: 20_000 }, () => '1').join(',')}]}`),
    // A valid shape with a wrong signature: readers with a secret must skip it.
    encodeRecord({ keys: ['items:0'], prefixes: [], all: true }, 0, 'wrong-secret-0123456789'),
    text('{"v":1,"keys":["items:0"],"all":false,"sig":"bm90IGEgc2lnbmF0dXJl"}'),
    // Prototype keys, and fields of the wrong types.
    text('{"v":1,"keys":["__proto__","constructor"],"__proto__":{"all":true},"all":false}'),
    text('{"v":1,"keys":"items:0","prefixes":{"length":1},"all":"true"}'),
    text('{"v":99,"keys":[],"all":false}'),
    text('null'),
  ]
  return hostile
}
