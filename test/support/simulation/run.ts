import { createPublisher, createScache, encodeRecord, type Scache } from '../../../src/index.js'
import { seededRandom } from '../prng.js'
import { type Faults, noFaults, SimulatedStream } from './kinesis.js'
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

/** Where virtual time starts: a plausible wall clock, so that timestamps look like Kinesis'. */
const EPOCH_MS = Date.UTC(2026, 0, 1)
const SECRET = 'simulation-secret-0123456789'
const CLOCK_SKEW_MS = 5_000

export type ViolationKind =
  /** Served a value invalidated more than `maxStalenessMs` (+ visibility delay) before the read. */
  | 'max-staleness'
  /** Served a value whose invalidation was readable before the container's claimed sync point. */
  | 'synced'
  /** `'bypass'`: served a value invalidated more than `pollIntervalMs` before the request began. */
  | 'healthy-bound'
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

export interface SimulationOptions {
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
   * every record (a decoder that claims them all), `serve-stale-as-bypass` runs `'serve-stale'`
   * while the checks hold it to `'bypass'`.
   */
  readonly sabotage?: 'drop-invalidations' | 'serve-stale-as-bypass'
  /** Keep a line per event in the report's `trace` (for replaying one seed). */
  readonly trace?: boolean
}

interface Write {
  readonly version: number
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
  const maxStalenessMs = pick(
    random,
    [1_000, 3_000, 10_000, 30_000].filter((ms) => ms >= pollIntervalMs),
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
  const stream = new SimulatedStream({
    name: 'invalidations',
    shards: 1 + Math.floor(random() * 3),
    time,
    random,
    visibilityDelayMs,
    childShards: random() < 0.5,
  })
  const config = JSON.stringify({
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
  })
  const latencyMs = () => between(random, 1, 30)

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
      const write: Write = { version: (versions.get(key) ?? 0) + 1, ackedAt: undefined }
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
      steps: [],
      instance: createScache({
        stream: { name: stream.name, client: stream.client(() => faults, latencyMs) },
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

  let finished = 0
  for (const container of containers)
    spawn(`container ${container.id}`, async () => {
      for (let n = 0; n < requestsPerContainer; n++) {
        await time.sleep(gapMs(random))
        await request(container)
      }
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
          await writerPublisher.invalidate(key)
          acknowledge(done)
        } else if (draw < 0.95) {
          const done = bump(keys.filter((key) => key.startsWith('items:1')))
          await writerPublisher.invalidatePrefix('items:1')
          acknowledge(done)
        } else {
          const done = bump(keys)
          await writerPublisher.invalidateAll()
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

  spawn('chaos', async () => {
    while (finished < containerCount) {
      await time.sleep(gapMs(random) * 4)
      const draw = random()
      if (draw < 0.25) {
        faults = faults === calm ? storm : calm
        note(() => `faults ${faults === calm ? 'calm' : 'storm'}`)
      } else if (draw < 0.4) {
        const split = stream.split()
        note(() => `split: ${split}`)
      } else if (draw < 0.5) {
        const merged = stream.merge()
        note(() => `merge: ${merged}`)
      } else if (draw < 0.55 && options.recreateStream !== false) {
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
        container.steps.push({ at: time.now, deltaMs })
        note(() => `c${container.id} clock steps ${deltaMs.toFixed(0)} ms`)
      }
    }
  })

  const startedAt = time.now
  time.install(seededRandom(seed ^ 0x5eed))
  try {
    const settled = await time.run(Number.POSITIVE_INFINITY, () => running === 0)
    if (!settled)
      violate('stuck', `${running} processes never finished (something waited without a deadline)`)
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
