import type { KinesisClient } from '@aws-sdk/client-kinesis'
import type {
  EncodedRecord,
  Invalidation,
  InvalidationSource,
  RecordDecoder,
} from '../../src/index.js'
import { heartbeatRecord } from '../../src/log/entry.js'
import type { ScacheLib } from '../lib/scache.js'
import { quantile } from '../lib/stats.js'
import { type DynamoDBLimits, SimulatedDynamoDB, type SimulatedDynamoDBStats } from './dynamodb.js'
import { type Caller, SimulatedKinesis, type SimulatedKinesisStats } from './kinesis.js'
import { ShardMapping } from './mapping.js'
import { exponentialMs, seededRandom, zipf } from './prng.js'

/**
 * How containers poll: `adaptive` is scache itself (`createScache`), which backs off
 * exponentially with jitter after a throttled poll; `fixed` drives scache's StreamReader directly
 * and polls every `pollIntervalMs` (with the same jitter) whatever the last poll met.
 */
export type PollMode = 'adaptive' | 'fixed'

export interface FleetConfig {
  readonly containers: number
  readonly mode: PollMode
  readonly pollIntervalMs: number
  readonly shards: number
  /** Replicated streams: each container reads one of them; writers write to all. */
  readonly streams: number
  readonly seed: number
  /** Requests per second to each container (Poisson). */
  readonly requestsPerSecond: number
  /** Invalidations per second, fleet-wide (Poisson), of keys drawn like the reads. */
  readonly writesPerSecond: number
  /** Distinct keys, read with Zipf(1) popularity. */
  readonly keys: number
  readonly ttlMs: { readonly minMs: number; readonly maxMs: number }
  readonly maxStalenessMs: number
  /** Virtual time of a load from the source on a miss, ms. */
  readonly loadMs: number
  /** Virtual latency of each Kinesis call, uniform in this range, ms. */
  readonly callLatencyMs: { readonly min: number; readonly max: number }
  /** From put to readable, ms. */
  readonly visibilityDelayMs: number
  /** Simulated time before measuring, then measured, ms. */
  readonly warmupMs: number
  readonly durationMs: number
  /**
   * Log mode: containers read a DynamoDB log table (one Query per poll) that a relay, invoked by
   * the stream's event source mapping, fills; absent, they read the stream directly.
   */
  readonly log?: LogConfig
}

export interface LogConfig {
  /** Copies of the log: the relay appends to each, each container reads one picked at random. */
  readonly copies: number
  /** Virtual latency of each DynamoDB call, uniform in this range, ms. */
  readonly callLatencyMs: { readonly min: number; readonly max: number }
  /** The event source mapping: records per invocation, idle poll interval, invoke overhead. */
  readonly batchSize: number
  readonly mappingPollIntervalMs: number
  readonly invokeMs: number
  /** The heartbeat record put on the stream this often, ms. */
  readonly heartbeatIntervalMs: number
  /** DynamoDB's limits, if not its own (tests shrink them). */
  readonly limits?: Partial<DynamoDBLimits>
}

/** What log mode cost and met, beside the stream's figures. */
export interface LogRunStats {
  readonly dynamodb: SimulatedDynamoDBStats
  /** Read units the containers' Queries consumed per second (mean over the measured time). */
  readonly readUnitsPerSecond: number
  /** The most read units consumed in one second of the measured time (the table's peak). */
  readonly peakReadUnitsPerSecond: number
  /** Of those, the busiest copy's mean per second. */
  readonly busiestCopyReadUnitsPerSecond: number
  /** Containers' Queries refused by a limit; the relay's calls refused by a limit. */
  readonly readerThrottles: number
  readonly relayThrottles: number
  /** Write units the relay consumed per second. */
  readonly writeUnitsPerSecond: number
  /** Relay invocations per second (all shards), their p50 and max duration, ms. */
  readonly invocationsPerSecond: number
  readonly invocationP50Ms: number
  readonly invocationMaxMs: number
  readonly failedInvocations: number
  /** The mapping's GetRecords that the shard refused. */
  readonly mappingThrottles: number
}

/**
 * The lowest a jittered poll interval goes, as a share of `pollIntervalMs`: scache draws each
 * interval in [0.8, 1) × `pollIntervalMs`, and the fixed baseline does the same.
 */
export const INTERVAL_JITTER_FLOOR = 0.8

/** One replicated stream at the end of a run: who reads it, and what its shards served. */
export interface StreamLoad {
  readonly name: string
  /** Containers reading it when the run ended (each reads one stream, picked at random). */
  readonly readers: number
  /** Admitted GetRecords per shard per second over the measured time. */
  readonly readTpsPerShard: number
  /** Calls on this stream refused by a limit. */
  readonly throttles: number
}

export interface FleetResult {
  readonly config: FleetConfig
  /** Wall time the simulation took on this machine, s. */
  readonly simulatedInS: number
  /** Admitted GetRecords per shard per second (mean over every shard of every stream). */
  readonly readTpsPerShard: number
  /** GetRecords sent per shard per second, admitted or not. */
  readonly attemptedTpsPerShard: number
  /** Calls refused by a limit, and their share of the calls made. */
  readonly throttles: number
  readonly throttleRate: number
  /** Polls made per container per second. */
  readonly pollsPerContainerPerSecond: number
  /** Staleness of the measured writes (see `staleness`), s. */
  readonly stalenessP50S: number
  readonly stalenessP99S: number
  readonly stalenessMaxS: number
  /** Writes measured, and those of them some container held the key of. */
  readonly writes: number
  readonly writesHeld: number
  /** Holders still exposed when the run ended (counted up to the end: a lower bound). */
  readonly censored: number
  /** Reads that returned a value older than the source's at that moment, and their share. */
  readonly staleReads: number
  readonly staleReadRate: number
  /** Of those reads, how old the newer value was (the staleness a caller saw), p99 and max, s. */
  readonly servedStalenessP99S: number
  readonly servedStalenessMaxS: number
  /** Reads answered from the cache, and reads that bypassed it, as shares of every read. */
  readonly hitRatio: number
  readonly bypassRate: number
  readonly reads: number
  /**
   * Each stream's readers, reads and throttles: containers pick their stream independently, so
   * the busiest has more readers than the mean, and it throttles first.
   */
  readonly streams: readonly StreamLoad[]
  readonly kinesis: SimulatedKinesisStats
  /** Log mode's table, relay and mapping (log mode only). */
  readonly log?: LogRunStats
  /** Reads the containers made that a limit refused (GetRecords direct, Query in log mode). */
  readonly throttledReads: number
}

/** A write of one key, followed until every container that held the key let go of it. */
interface Write {
  readonly key: string
  readonly at: number
  readonly measured: boolean
  /** Containers that held the key when it was written, and when their entry would expire. */
  readonly holders: Map<number, number>
  /** When the last holder so far let go. */
  releasedAt: number
  held: boolean
}

interface Value {
  readonly version: number
}

/** One simulated container: its own virtual clock, cache and stream position. */
interface Container {
  readonly id: number
  readonly clock: { t: number }
  /** The stream it reads now. */
  stream(): string
  /** Serves one request at `clock.t`: begin (poll if due), read a key, load it on a miss. */
  request(key: string): Promise<void>
  /** Whether a live entry for `key` is held now (its clock). */
  holds(key: string): boolean
  /** Until when the held entry of `key` lives (TTL), as the handler set it. */
  readonly expiries: Map<string, number>
  /** Writes whose key this container held, not yet let go. */
  readonly exposed: Set<Write>
}

interface Counters {
  reads: number
  hits: number
  bypassed: number
  staleReads: number
  polls: number
  measuring: boolean
}

/** A binary min-heap of events by time; ties in insertion order, so runs replay exactly. */
class EventQueue<T> {
  readonly #heap: { t: number; n: number; item: T }[] = []
  #n = 0

  get size(): number {
    return this.#heap.length
  }

  push(t: number, item: T): void {
    const heap = this.#heap
    heap.push({ t, n: this.#n++, item })
    let i = heap.length - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (!this.#less(i, parent)) break
      this.#swap(i, parent)
      i = parent
    }
  }

  pop(): { t: number; item: T } | undefined {
    const heap = this.#heap
    const top = heap[0]
    const last = heap.pop()
    if (top === undefined || last === undefined) return undefined
    if (heap.length > 0) {
      heap[0] = last
      let i = 0
      for (;;) {
        const left = 2 * i + 1
        const right = left + 1
        let smallest = i
        if (left < heap.length && this.#less(left, smallest)) smallest = left
        if (right < heap.length && this.#less(right, smallest)) smallest = right
        if (smallest === i) break
        this.#swap(i, smallest)
        i = smallest
      }
    }
    return top
  }

  #less(a: number, b: number): boolean {
    const x = this.#heap[a]
    const y = this.#heap[b]
    if (x === undefined || y === undefined) return false
    return x.t < y.t || (x.t === y.t && x.n < y.n)
  }

  #swap(a: number, b: number): void {
    const heap = this.#heap
    const x = heap[a]
    const y = heap[b]
    if (x === undefined || y === undefined) return
    heap[a] = y
    heap[b] = x
  }
}

/**
 * Runs one fleet in virtual time: N containers, each with its own clock, serving Poisson
 * requests; writers invalidating keys at a fleet-wide rate; one simulated Kinesis enforcing the
 * per-shard limits. Events run in time order; a request runs to its end (its poll's calls
 * advance its container's clock by their latency) before the next event starts, so the calls of
 * polls that overlap in virtual time reach Kinesis in request order.
 *
 * Staleness of a write: from the write until every container that held a live entry of its key
 * at that moment has let go of it, by applying the invalidation (seen by a decoder on its read
 * path), by clearing its cache, or by the entry's TTL ending. A write no container held is not
 * counted. It includes Kinesis' visibility delay.
 */
export const simulateFleet = async (lib: ScacheLib, config: FleetConfig): Promise<FleetResult> => {
  const started = performance.now()
  const random = seededRandom(config.seed)
  const streamNames = Array.from({ length: config.streams }, (_, i) => `invalidations-${i + 1}`)
  const kinesis = new SimulatedKinesis({
    streams: streamNames.map((name) => ({ name, shards: config.shards })),
    visibilityDelayMs: config.visibilityDelayMs,
  })
  const log = config.log
  const LOG_TABLE = 'scache-log'
  const dynamodb =
    log === undefined
      ? undefined
      : new SimulatedDynamoDB({
          tables: [{ name: LOG_TABLE, partitionKey: 'pk', sortKey: 'seq' }],
          ...(log.limits === undefined ? {} : { limits: log.limits }),
        })
  const keys = Array.from({ length: config.keys }, (_, i) => `users:${i}`)
  const drawKey = zipf(config.keys, 1, random)
  const end = config.warmupMs + config.durationMs
  const counters: Counters = {
    reads: 0,
    hits: 0,
    bypassed: 0,
    staleReads: 0,
    polls: 0,
    measuring: false,
  }
  /** The source of truth: each key's version, and when each version was written. */
  const versions = new Map<string, number[]>()
  const versionOf = (key: string): number => versions.get(key)?.length ?? 0
  const writesByData = new WeakMap<Uint8Array, Write>()
  const writes: Write[] = []
  /** For each read that returned an outdated value: how long since the newer value was written, s. */
  const servedStaleness: number[] = []

  const release = (container: Container, write: Write, at: number): void => {
    const expiresAt = write.holders.get(container.id)
    if (expiresAt === undefined) return
    write.holders.delete(container.id)
    container.exposed.delete(write)
    write.releasedAt = Math.max(write.releasedAt, Math.min(at, expiresAt))
  }
  const releaseAll = (container: Container, at: number): void => {
    for (const write of [...container.exposed]) release(container, write, at)
  }
  /**
   * Log mode has no stream record to observe: after each poll, a container that no longer
   * holds the key of a write it was exposed to has let go of it (one request at a time, so only
   * the poll, a clear or the TTL can have removed it).
   */
  const releaseEvicted = (container: Container, at: number): void => {
    for (const write of [...container.exposed])
      if (!container.holds(write.key)) release(container, write, at)
  }
  /** Sees every record a container applies, on scache's own read path, and lets go of its write. */
  const observer = (container: () => Container): RecordDecoder => ({
    name: 'fleet-observer',
    decode: (record: EncodedRecord) => {
      const write = writesByData.get(record.data)
      const c = container()
      if (write !== undefined) release(c, write, c.clock.t)
      // Not a decoder of its own format: scache's decodes the record.
      return undefined
    },
  })
  const latency = () =>
    config.callLatencyMs.min + random() * (config.callLatencyMs.max - config.callLatencyMs.min)
  const dynamoLatency = () =>
    log === undefined
      ? 0
      : log.callLatencyMs.min + random() * (log.callLatencyMs.max - log.callLatencyMs.min)
  const drawTtl = () =>
    config.ttlMs.minMs + Math.floor(random() * (config.ttlMs.maxMs - config.ttlMs.minMs + 1))

  /** A read of `key` through `get`, loading on a miss and storing with `set`. */
  const read = async (
    container: Container,
    key: string,
    get: () => Value | undefined,
    bypassed: boolean,
    set: (value: Value, ttlMs: number) => boolean,
  ): Promise<void> => {
    const now = container.clock.t
    const value = get()
    if (counters.measuring) {
      counters.reads++
      if (bypassed) counters.bypassed++
      else if (value !== undefined) counters.hits++
    }
    if (value !== undefined) {
      const newer = versions.get(key)?.[value.version]
      if (counters.measuring && newer !== undefined) {
        counters.staleReads++
        servedStaleness.push((now - newer) / 1_000)
      }
      return
    }
    const loaded: Value = { version: versionOf(key) }
    container.clock.t = now + config.loadMs
    const ttlMs = drawTtl()
    if (set(loaded, ttlMs)) container.expiries.set(key, container.clock.t + ttlMs)
  }

  const newCaller = (clock: { t: number }, latencyMs = latency): Caller => ({
    now: () => clock.t,
    arrive: (at) => {
      clock.t = Math.max(clock.t, at)
    },
    latencyMs,
  })

  const sharedKinesis = log === undefined ? undefined : kinesis.client(newCaller({ t: 0 }))
  const adaptive = (id: number): Container => {
    const clock = { t: 0 }
    const self: Container = {
      id,
      clock,
      expiries: new Map(),
      exposed: new Set(),
      request: async (key) => {
        const invocation = await instance.begin()
        if (log !== undefined && invocation.poll !== undefined) releaseEvicted(self, clock.t)
        if (invocation.poll !== undefined && counters.measuring) counters.polls++
        await read(
          self,
          key,
          () => invocation.cache.get<Value>(key),
          invocation.cache.bypassed,
          (value, ttlMs) => invocation.cache.set(key, value, { ttlMs }),
        )
        const line = invocation.end()
        if (line.cleared !== undefined) releaseAll(self, clock.t)
      },
      holds: (key) => instance.cache.has(key),
      stream: () =>
        log === undefined
          ? instance.diagnostics().stream
          : (instance.diagnostics().positions[0]?.shardId ?? ''),
    }
    // Log mode reads no stream: one client serves every container's (unused) stream option.
    const client: KinesisClient = sharedKinesis ?? kinesis.client(newCaller(clock))
    const instance = lib.createScache({
      stream:
        config.streams > 1 ? { names: streamNames, client } : { name: 'invalidations-1', client },
      ...(dynamodb === undefined || log === undefined
        ? {}
        : {
            logTable: {
              name: LOG_TABLE,
              copies: log.copies,
              client: dynamodb.client(newCaller(clock, dynamoLatency), 'reader'),
            },
          }),
      clock: { now: () => clock.t, random },
      pollIntervalMs: config.pollIntervalMs,
      maxStalenessMs: config.maxStalenessMs,
      ttl: config.ttlMs,
      // Room for every key, so the bound never evicts; the default (10,000) preallocates an
      // LRU ten times as large, which 10,000 simulated containers cannot afford.
      maxEntries: config.keys,
      decoders: [observer(() => self)],
      log: false,
    })
    return self
  }

  /** The fixed-interval baseline: scache's StreamReader, polled on schedule whatever happens. */
  const fixed = (id: number): Container => {
    const clock = { t: 0 }
    const store = new Map<string, { value: Value; expiresAt: number }>()
    /** The latest expiry among the stored entries (recomputed only when it may have gone). */
    let latest = Number.NEGATIVE_INFINITY
    let latestStale = false
    const latestExpiry = (): number => {
      if (latestStale) {
        latest = Number.NEGATIVE_INFINITY
        for (const entry of store.values()) latest = Math.max(latest, entry.expiresAt)
        latestStale = false
      }
      return latest
    }
    const clearStore = (): void => {
      store.clear()
      latest = Number.NEGATIVE_INFINITY
      latestStale = false
    }
    const drop = (key: string): void => {
      const entry = store.get(key)
      if (entry === undefined) return
      store.delete(key)
      if (entry.expiresAt >= latest) latestStale = true
    }
    const stream = streamNames[Math.floor(random() * streamNames.length)] as string
    const copy = log === undefined ? 0 : Math.floor(random() * log.copies)
    let syncedAt = 0
    let lastPollAt = Number.NEGATIVE_INFINITY
    let intervalMs = 0
    let healthy = true
    const live = (key: string): Value | undefined => {
      const entry = store.get(key)
      return entry !== undefined && clock.t <= entry.expiresAt ? entry.value : undefined
    }
    const self: Container = {
      id,
      clock,
      expiries: new Map(),
      exposed: new Set(),
      request: async (key) => {
        const now = clock.t
        // Every entry expired is the same as none left; checked without a sweep per request.
        if (store.size > 0 && now > latestExpiry()) clearStore()
        if (store.size === 0) {
          // As scache does: nothing cached, nothing can be stale; move to now for free.
          reader.skipToNow(Math.min(60_000, config.maxStalenessMs / 2))
          syncedAt = now
          healthy = true
        } else if (now - lastPollAt >= intervalMs) {
          const result = await reader.poll({ apply: (invalidation) => evict(invalidation) })
          if (log !== undefined) releaseEvicted(self, clock.t)
          if (counters.measuring) counters.polls++
          lastPollAt = now
          intervalMs =
            config.pollIntervalMs * (INTERVAL_JITTER_FLOOR + (1 - INTERVAL_JITTER_FLOOR) * random())
          if (result.restarted !== undefined) {
            clearStore()
            releaseAll(self, clock.t)
            syncedAt = clock.t
            healthy = true
          } else {
            healthy = result.ok
            if (result.ok) syncedAt = now
          }
        }
        const bypassed = !healthy || clock.t - syncedAt > config.maxStalenessMs
        await read(
          self,
          key,
          () => (bypassed ? undefined : live(key)),
          bypassed,
          (value, ttlMs) => {
            if (bypassed) return false
            drop(key)
            store.set(key, { value, expiresAt: clock.t + ttlMs })
            latest = Math.max(latest, clock.t + ttlMs)
            return true
          },
        )
      },
      holds: (key) => live(key) !== undefined,
      stream: () => (log === undefined ? stream : `log#${copy}`),
    }
    const evict = (invalidation: Invalidation): void => {
      if (invalidation.all) clearStore()
      for (const key of invalidation.keys) drop(key)
      for (const prefix of invalidation.prefixes)
        for (const key of [...store.keys()]) if (key.startsWith(prefix)) drop(key)
    }
    const reader: InvalidationSource =
      dynamodb === undefined
        ? new lib.StreamReader({
            stream,
            client: kinesis.client(newCaller(clock)),
            clockSkewMs: 5_000,
            maxPagesPerShard: 5,
            maxBehindMs: config.maxStalenessMs,
            decoders: [observer(() => self)],
            now: () => clock.t,
          })
        : new lib.LogSource({
            table: LOG_TABLE,
            copy,
            client: dynamodb.client(newCaller(clock, dynamoLatency), 'reader'),
            clockSkewMs: 5_000,
            maxPages: 5,
            maxBehindMs: config.maxStalenessMs,
            now: () => clock.t,
          })
    return self
  }

  /** Log mode: the relay on each shard of the (one) stream, as its event source mapping runs it. */
  const mappings =
    log === undefined || dynamodb === undefined
      ? []
      : Array.from({ length: config.shards }, (_, index) => {
          const clock = { t: 0 }
          return new ShardMapping({
            stream: streamNames[0] as string,
            shardId: `shardId-${String(index).padStart(12, '0')}`,
            kinesis: kinesis.client(newCaller(clock)),
            handler: lib.createRelay({
              table: LOG_TABLE,
              copies: log.copies,
              client: dynamodb.client(newCaller(clock, dynamoLatency), 'relay'),
              now: () => clock.t,
              // The mapping awaits each invocation before the next event: a backoff advances this
              // shard's clock. The deadline's watchdog (a sleep given a signal) never fires: the
              // simulated table answers every call.
              sleep: (ms, signal) => {
                if (signal !== undefined) return new Promise<void>(() => {})
                clock.t += Math.max(0, ms)
                return Promise.resolve()
              },
              // Its own stream of draws, so that the relay's jitter does not shift the world's.
              random: seededRandom(config.seed + 1 + index),
              log: () => {},
            }),
            clock,
            batchSize: log.batchSize,
            pollIntervalMs: log.mappingPollIntervalMs,
            invokeMs: log.invokeMs,
            retryDelayMs: 1_000,
          })
        })

  const containers = Array.from({ length: config.containers }, (_, id) =>
    config.mode === 'adaptive' ? adaptive(id) : fixed(id),
  )
  type Event =
    | { kind: 'request'; container: Container }
    | { kind: 'write' }
    | { kind: 'measure' }
    | { kind: 'mapping'; mapping: ShardMapping }
    | { kind: 'heartbeat' }
  const queue = new EventQueue<Event>()
  for (const mapping of mappings) queue.push(random() * 1_000, { kind: 'mapping', mapping })
  if (log !== undefined) queue.push(0, { kind: 'heartbeat' })
  for (const container of containers)
    queue.push(exponentialMs(random, config.requestsPerSecond), { kind: 'request', container })
  queue.push(exponentialMs(random, config.writesPerSecond), { kind: 'write' })
  queue.push(config.warmupMs, { kind: 'measure' })

  for (let event = queue.pop(); event !== undefined && event.t < end; event = queue.pop()) {
    const { t, item } = event
    if (item.kind === 'measure') {
      counters.measuring = true
      kinesis.resetStats()
      dynamodb?.resetStats()
      for (const { stats } of mappings) {
        stats.polls = 0
        stats.throttledPolls = 0
        stats.invocations = 0
        stats.failedInvocations = 0
        stats.records = 0
        stats.durationsMs.length = 0
      }
    } else if (item.kind === 'mapping') {
      queue.push(await item.mapping.step(t), item)
    } else if (item.kind === 'heartbeat') {
      const data = new TextEncoder().encode(heartbeatRecord(t))
      kinesis.put(streamNames[0] as string, data, `heartbeat/${t}`, t)
      queue.push(t + (log?.heartbeatIntervalMs ?? 5_000), item)
    } else if (item.kind === 'write') {
      const key = keys[drawKey()] as string
      const history = versions.get(key) ?? []
      history.push(t)
      versions.set(key, history)
      const write: Write = {
        key,
        at: t,
        measured: counters.measuring,
        holders: new Map(),
        releasedAt: t,
        held: false,
      }
      // Who holds the key as it is written: each is exposed until it lets go.
      for (const container of containers) {
        container.clock.t = Math.max(container.clock.t, t)
        if (!container.holds(key)) continue
        write.holders.set(container.id, container.expiries.get(key) ?? end)
        container.exposed.add(write)
      }
      write.held = write.holders.size > 0
      writes.push(write)
      const data = lib.encodeRecord({ keys: [key], prefixes: [], all: false }, t)
      writesByData.set(data, write)
      for (const stream of streamNames) kinesis.put(stream, data, `${key}/${random()}`, t)
      queue.push(t + exponentialMs(random, config.writesPerSecond), { kind: 'write' })
    } else {
      const container = item.container
      // One request at a time per container: a request arriving mid-request waits for it.
      container.clock.t = Math.max(container.clock.t, t)
      await container.request(keys[drawKey()] as string)
      queue.push(t + exponentialMs(random, config.requestsPerSecond), item)
    }
  }

  // Holders still exposed at the end count until the end (or their entry's expiry).
  let censored = 0
  for (const write of writes) {
    for (const [, expiresAt] of write.holders) {
      if (expiresAt > end) censored++
      write.releasedAt = Math.max(write.releasedAt, Math.min(end, expiresAt))
    }
  }
  const measured = writes.filter((write) => write.measured)
  const held = measured.filter((write) => write.held)
  const staleness = held.map((write) => (write.releasedAt - write.at) / 1_000)
  const stats = kinesis.stats()
  const seconds = config.durationMs / 1_000
  const shardCount = config.streams * config.shards
  const dynamoStats = dynamodb?.stats()
  const sum = (values: Record<string, number> | undefined) =>
    Object.values(values ?? {}).reduce((total, n) => total + n, 0)
  const calls = sum(stats.calls) + sum(dynamoStats?.calls)
  const throttles = sum(stats.throttled) + sum(dynamoStats?.throttled)
  const admitted = Object.values(stats.getRecordsByShard).reduce((sum, n) => sum + n, 0)
  const reads = counters.reads
  const round = (value: number, digits = 3) => Number(value.toFixed(digits))
  const readers = new Map<string, number>()
  for (const container of containers)
    readers.set(container.stream(), (readers.get(container.stream()) ?? 0) + 1)
  const streams = streamNames.map((name): StreamLoad => {
    const admittedOn = Object.entries(stats.getRecordsByShard)
      .filter(([shard]) => shard.startsWith(`${name}/`))
      .reduce((sum, [, n]) => sum + n, 0)
    return {
      name,
      readers: readers.get(name) ?? 0,
      readTpsPerShard: round(admittedOn / seconds / config.shards, 2),
      throttles: stats.throttledByStream[name] ?? 0,
    }
  })
  const durations = mappings.flatMap((mapping) => mapping.stats.durationsMs)
  const logStats: LogRunStats | undefined =
    dynamoStats === undefined
      ? undefined
      : {
          dynamodb: dynamoStats,
          // The relay's own head reads are among them: one per cold relay, a few per run.
          readUnitsPerSecond: round(
            (dynamoStats.consistentReadUnits + dynamoStats.eventualReadUnits) / seconds,
            1,
          ),
          peakReadUnitsPerSecond: round(dynamoStats.peakReadUnitsPerSecond, 1),
          busiestCopyReadUnitsPerSecond: round(
            Math.max(0, ...Object.values(dynamoStats.readUnitsByPartition)) / seconds,
            1,
          ),
          readerThrottles: dynamoStats.throttledByRole.reader ?? 0,
          relayThrottles: dynamoStats.throttledByRole.relay ?? 0,
          writeUnitsPerSecond: round(dynamoStats.writeUnits / seconds, 2),
          invocationsPerSecond: round(
            mappings.reduce((total, m) => total + m.stats.invocations, 0) / seconds,
            2,
          ),
          invocationP50Ms: durations.length === 0 ? 0 : round(quantile(durations, 0.5), 1),
          invocationMaxMs: durations.length === 0 ? 0 : round(quantile(durations, 1), 1),
          failedInvocations: mappings.reduce((total, m) => total + m.stats.failedInvocations, 0),
          mappingThrottles: mappings.reduce((total, m) => total + m.stats.throttledPolls, 0),
        }
  return {
    config,
    simulatedInS: round((performance.now() - started) / 1_000, 2),
    readTpsPerShard: round(admitted / seconds / shardCount, 2),
    attemptedTpsPerShard: round((stats.calls.GetRecords ?? 0) / seconds / shardCount, 2),
    throttles,
    throttleRate: calls === 0 ? 0 : round(throttles / calls),
    pollsPerContainerPerSecond: round(counters.polls / seconds / config.containers),
    stalenessP50S: round(quantile(staleness, 0.5), 2),
    stalenessP99S: round(quantile(staleness, 0.99), 2),
    stalenessMaxS: round(quantile(staleness, 1), 2),
    writes: measured.length,
    writesHeld: held.length,
    censored,
    staleReads: counters.staleReads,
    staleReadRate: reads === 0 ? 0 : round(counters.staleReads / reads, 4),
    servedStalenessP99S:
      servedStaleness.length === 0 ? 0 : round(quantile(servedStaleness, 0.99), 2),
    servedStalenessMaxS: servedStaleness.length === 0 ? 0 : round(quantile(servedStaleness, 1), 2),
    hitRatio: reads === 0 ? 0 : round(counters.hits / reads),
    bypassRate: reads === 0 ? 0 : round(counters.bypassed / reads),
    reads,
    streams,
    kinesis: stats,
    ...(logStats === undefined ? {} : { log: logStats }),
    throttledReads:
      logStats === undefined ? (stats.throttled.GetRecords ?? 0) : logStats.readerThrottles,
  }
}
