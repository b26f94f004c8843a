import { ENTRY_OVERHEAD_BYTES } from '../src/cache/size.js'
import type { ColdStartResult } from './cold-start.js'
import type { FleetBenchResult, FleetSummary } from './fleet/index.js'
import { kinesisLimits } from './fleet/kinesis.js'
import { type FleetResult, INTERVAL_JITTER_FLOOR } from './fleet/simulate.js'
import type { HitPathResult } from './hit-path.js'
import type { Machine } from './lib/machine.js'
import type { MemoryParts, MemoryResult, MemoryShape, RetainedShape } from './memory.js'
import type { MiddlewareResult } from './middleware.js'
import {
  type Backend,
  type PollCost,
  type StreamCostResult,
  type StreamCostRow,
  setupKey,
} from './stream-cost.js'

export const sectionNames = [
  'hitPath',
  'middleware',
  'streamCost',
  'fleet',
  'coldStart',
  'memory',
] as const
export type SectionName = (typeof sectionNames)[number]

interface Section<T> {
  readonly machine: Machine
  readonly result: T
}

export interface Results {
  sections: {
    hitPath?: Section<HitPathResult>
    middleware?: Section<MiddlewareResult>
    streamCost?: Section<StreamCostResult>
    fleet?: Section<FleetBenchResult>
    coldStart?: Section<ColdStartResult>
    memory?: Section<MemoryResult>
  }
}

const n = (value: number, digits = 3): string => {
  if (!Number.isFinite(value)) return String(value)
  const abs = Math.abs(value)
  const rounded =
    abs >= 100 ? Math.round(value) : Number(value.toPrecision(abs >= 1 ? digits : digits - 1))
  return rounded.toLocaleString('en-US', { maximumFractionDigits: 3 })
}
const kib = (bytes: number) => `${n(bytes / 1024)} KiB`
const mib = (bytes: number) => `${n(bytes / 2 ** 20)} MiB`
const pct = (ratio: number) => `${n(ratio * 100)} %`
const signed = (bytes: number) => `${bytes < 0 ? '−' : '+'}${mib(Math.abs(bytes))}`
const met = (ok: boolean) => (ok ? 'met' : '**missed**')
const table = (head: readonly string[], rows: readonly (readonly string[])[]): string =>
  [
    `| ${head.join(' | ')} |`,
    `| ${head.map((_, i) => (i === 0 ? '---' : '---:')).join(' | ')} |`,
    ...rows.map((row) => `| ${row.join(' | ')} |`),
  ].join('\n')
const measuredOn = (m: Machine) =>
  `_Measured ${m.date.slice(0, 10)} on ${m.cpu} (${m.cores} cores, ${m.memoryGiB} GiB), Node ${m.node}, ${m.platform}._`

const header = `# Benchmarks

\`npm run bench\` builds the package, runs every benchmark below and rewrites this file, its chart
([fleet-staleness.svg](fleet-staleness.svg)) and the raw figures in
[bench/results.json](../bench/results.json). \`npm run bench -- fleet memory\` runs some sections
only (the others keep their last results). Each section runs in a fresh Node process and measures
the built package (\`dist/\`), as a function runs it. The benchmarks are not part of \`npm test\`:
timings are never asserted. Figures only mean something against the baseline measured beside
them in the same run, on the same machine: read the ratios.

| section | how it measures | code |
| --- | --- | --- |
| Hit path | ns per hit of \`context.cache.get\` (the \`RequestCache\` of \`begin()\`) on 1,000 cached keys, in batches of 1,000, with tinybench; beside it, in the same process: \`Map.get\`, raw \`lru-cache\` \`get\`, lru-cache with a per-entry TTL read against the clock, scache's store, and one \`Date.now()\`; then lru-cache and \`context.cache.get\` with an \`await\` after each read. Median batch time of each of 3 rounds, then the median round. (Under Middy, \`request.context.cache\` is this same object.) | [bench/hit-path.ts](../bench/hit-path.ts) |
| Middleware overhead | Wall and CPU time (\`process.cpuUsage\`, user + system) per warm invocation of a Middy handler with and without scache, 7 rounds of 20,000 invocations in rotating order, median. Stream I/O stubbed: no poll is due (\`pollIntervalMs\` of an hour), and, in a separate row, a poll on every invocation answered at once by a \`KinesisClient\` whose \`send\` returns empty \`GetRecords\`. | [bench/middleware.ts](../bench/middleware.ts) |
| Stream cost | Kinesis calls (counted by the limits proxy) and wall time per warm poll, against kinesalite behind the limits proxy (test/support/limits-proxy.ts), both in a child process ([bench/lib/kinesis-host.ts](../bench/lib/kinesis-host.ts)) as a real Kinesis is never in its client's process, reached over loopback HTTP by the real SDK client, built as scache builds its default one: scache (\`pollIntervalMs: 0\`) against the per-request read of a-h/scache (ListShards, then GetShardIterator and GetRecords per shard in sequence; [bench/baseline](../bench/baseline/per-request-reader.ts)). 1 and 4 shards, each reader with its own stream, proxy and client; in each setup the four are polled one after the other, 4 times a second, in an order that rotates; nothing new on the stream; the proxy adds 0 ms (loopback) or 10 ms (about an in-region call) to each call; in a third setup, with 10 ms added, the proxy answers GetRecords itself, at once, instead of kinesalite (\`answerReads\`). Beside the wall time, the CPU both processes spent during each poll (\`process.cpuUsage\`, user + system); medians. | [bench/stream-cost.ts](../bench/stream-cost.ts) |
| Fleet simulation | N containers running scache's real code in virtual time against a simulated Kinesis that enforces the per-shard limits; see [below](#4-fleet-simulation). | [bench/fleet/](../bench/fleet) |
| Cold start | The users API handler (examples/users-api/api.ts) bundled with template.yaml's esbuild settings, as \`sam build\` does (minified ESM, ES modules first, all but \`@aws-sdk/*\` inside); and the time a fresh \`node\` process takes to import the package (\`dist/index.js\`), against \`@middy/core\` alone: 25 processes each, interleaved, median. | [bench/cold-start.ts](../bench/cold-start.ts) |
| Memory | RSS and \`heapUsed\` after writing 10 × \`maxBytes\` (32 MiB) of values through \`context.cache.set\`, in a child process with \`--expose-gc\` after full collections, against the same process with an empty cache, and against the same process writing the same values through a sink that keeps only the latest (the same allocation); V8's heap space by space and resident memory by kind; objects (user records) and 1 KB strings, decoded from JSON as a handler receives them; median of the runs. | [bench/memory.ts](../bench/memory.ts) |
`

const hitSection = (s: Section<HitPathResult>): string => {
  const r = s.result
  const ns = (name: string) => r.nsPerHit[name] ?? Number.NaN
  const clock = ns('Date.now (one clock read)')
  const lru = ns('lru-cache get')
  return `## 1. Hit path

${measuredOn(s.machine)}

${table(
  ['read', 'ns per hit', '× lru-cache get'],
  Object.keys(r.nsPerHit).map((name) => [name, n(ns(name)), n(ns(name) / lru)]),
)}

\`context.cache.get\` is **${n(r.ratioToLruCache)}×** raw lru-cache \`get\` (target ≤ 1.5×: ${met(r.ratioToLruCache <= 1.5)}) and ${n(r.ratioToMap)}× \`Map.get\`.

With an \`await\` between reads, so that each read is a run of code of its own:
${n(ns('context.cache.get, await between reads'))} ns against ${n(ns('lru-cache get, await between reads'))} ns, **${n(r.ratioOnePerRun)}×**.

Why: a hit reads no clock of its own. A hit must check the entry's TTL and the staleness bound
(\`maxStalenessMs\` is checked on every read, so that a long invocation cannot outlive it), and
one \`Date.now()\` costs ${n(clock)} ns on this machine, ${n(clock / lru)}× a whole lru-cache \`get\`.
scache reads \`Date.now()\` at most once per run of code: the first read caches it and a
microtask forgets it, so a loop of hits shares one read, and every I/O callback, timer or thaw
reads afresh (the microtask queue drains before the event loop turns, and so before a Lambda
freeze). Each check still runs on every read against that time; the time can be as old as the run
of code the read is in (a loop that blocks the event loop for N ms can read an entry N ms past its
TTL), never older. The worst case is one read per run (the last two rows): it pays the clock read
and the microtask. Entries carry their own expiry instead of lru-cache's TTL, so that one clock
read serves the staleness bound and the entry's TTL (the row "lru-cache get (ttl, ttlResolution
0)" shows what lru-cache's TTL check costs, with its own clock cache, \`ttlResolution\`, turned
off); a keyspace is looked up only when some keyspace has options of its own; and a hit hands
back the stored entry rather than a copy of it.
`
}

const middlewareSection = (s: Section<MiddlewareResult>): string => {
  const r = s.result
  return `## 2. Middleware overhead

${measuredOn(s.machine)}

${table(
  ['handler', 'wall µs / invocation', 'CPU µs / invocation'],
  Object.entries(r.perInvocationUs).map(([name, v]) => [name, n(v.wall), n(v.cpu)]),
)}

scache adds **${n(r.overheadCpuUs)} µs of CPU** (${n(r.overheadWallUs)} µs wall) per warm invocation when
no poll is due (target < 10 µs: ${met(r.overheadCpuUs < 10)}): \`begin()\` (schedule and staleness
checks, the per-invocation \`RequestCache\`), \`end()\` (the log line object; \`log: false\`) and the
Middy hooks. Serialising the log line adds the difference between the first two scache rows. A
poll on every invocation, with the client answering at once, costs ${n(r.overheadWithPollCpuUs)} µs
of CPU in all (the reader's own work per poll, without the network). CPU includes Node's
background threads (GC), so it can exceed wall time.
`
}

const streamSection = (s: Section<StreamCostResult>): string => {
  const r = s.result
  const calls = (cost: PollCost) =>
    Object.entries(cost.calls)
      .map(([op, c]) => `${n(c)} ${op}`)
      .join(' + ')
  const servedBy = (row: StreamCostRow): string =>
    row.backend === 'proxy' ? 'the proxy, at once' : 'kinesalite'
  const rows = r.rows.map((row) => [
    `${row.shards}`,
    `${row.latencyMs} ms`,
    servedBy(row),
    calls(row.scache),
    calls(row.baseline),
    `**${n(row.callRatio)}×**`,
    `${n(row.scache.p50Ms)} (p90 ${n(row.scache.p90Ms)})`,
    `${n(row.baseline.p50Ms)} (p90 ${n(row.baseline.p90Ms)})`,
    `${n(row.timeRatio)}×`,
    `${row.scache.throttled + row.baseline.throttled}`,
  ])
  const cpuRows = r.rows.flatMap((row) =>
    (
      [
        ['scache', row.scache],
        ['a-h/scache', row.baseline],
      ] as const
    ).map(([name, cost]) => [
      name,
      `${row.shards}`,
      `${row.latencyMs} ms`,
      servedBy(row),
      `${n(cost.callsTotal)}`,
      n(cost.p50Ms),
      n(cost.clientCpuMs),
      n(cost.hostCpuMs),
    ]),
  )
  const one = r.rows.find((row) => row.shards === 1 && row.latencyMs === 0)
  const most = Math.max(...r.rows.map((row) => row.shards))
  const find = (shards: number, latencyMs: number, backend: Backend) =>
    r.rows.find(
      (row) => row.shards === shards && row.latencyMs === latencyMs && row.backend === backend,
    )?.scache
  const emulated = r.rows.filter((row) => row.backend === 'kinesalite' && row.shards === 1)
  const ratioAt = (latencyMs: number, backend: Backend): number =>
    r.fourToOneShard[setupKey(latencyMs, backend)] ?? Number.NaN
  const extra = (latencyMs: number): string => {
    const a = find(1, latencyMs, 'kinesalite')
    const b = find(most, latencyMs, 'kinesalite')
    if (a === undefined || b === undefined) return ''
    return `with ${latencyMs} ms added, ${n(b.p50Ms - a.p50Ms)} ms more wall time, while the host spent ${n(b.hostCpuMs - a.hostCpuMs)} ms more CPU and the client ${n(b.clientCpuMs - a.clientCpuMs)} ms more`
  }
  const answered = r.rows.find((row) => row.backend === 'proxy')?.latencyMs ?? Number.NaN
  const answeredOne = find(1, answered, 'proxy')
  const answeredMost = find(most, answered, 'proxy')
  const answeredRatio = ratioAt(answered, 'proxy')
  const clientFloor =
    answeredOne && answeredMost
      ? (answered + answeredMost.clientCpuMs) / (answered + answeredOne.clientCpuMs)
      : Number.NaN
  const emulatedOk = emulated.every((row) => ratioAt(row.latencyMs, 'kinesalite') <= 1.2)
  return `## 3. Stream cost per warm poll

${measuredOn(s.machine)}

${table(
  [
    'shards',
    'added latency',
    'GetRecords served by',
    'scache calls / poll',
    'a-h/scache calls / poll',
    'fewer calls',
    'scache ms (p50)',
    'a-h/scache ms (p50)',
    'faster',
    'throttled',
  ],
  rows,
)}

Where a poll's time goes (${r.polls} polls of each reader, p50 of each column, ms per poll): wall
time as the client measures it, the CPU of the client's process (the reader, the AWS SDK client,
Node's HTTP) and the CPU of the host process (kinesalite and the limits proxy; it includes about
${n(r.hostQueryCpuMs)} ms of answering the benchmark's CPU query).

${table(
  [
    'reader',
    'shards',
    'added latency',
    'GetRecords served by',
    'calls',
    'wall',
    'client CPU',
    'host CPU',
  ],
  cpuRows,
)}

- Calls at 1 shard: a-h/scache makes **${n(one?.callRatio ?? Number.NaN)}×** as many (target ≥ 3×:
  ${met((one?.callRatio ?? 0) >= 3)}). Its ListShards and GetShardIterator per request are gone; what is
  left is one GetRecords per shard, the least a poll can make. At ${most} shards the ratio is
  (1 + 2 × ${most}) / ${most} = ${n((1 + 2 * most) / most)}×: the shard count multiplies both.
- scache's ${most}-shard poll against its 1-shard poll, against kinesalite: ${emulated.map((row) => `**${n(ratioAt(row.latencyMs, 'kinesalite'))}×** with ${row.latencyMs} ms added`).join(', ')} (target ≤ 1.2×: ${met(emulatedOk)}).
  scache sends the ${most} GetRecords at once: ${emulated.map((row) => extra(row.latencyMs)).join('; ')}.
  The host is one Node process: it serves the parallel calls one after the other, where a real
  Kinesis serves each shard on its own machines; and on this ${s.machine.cores}-core machine the host
  and the client share the cores (with anything else running). The client's own CPU grows with
  the shard count too: the AWS SDK serialises, signs and parses each GetRecords on the client's one
  thread (scache's reader itself costs microseconds per poll: see the middleware overhead).
- With the emulator's share taken out, the proxy answering each GetRecords itself (at once, all
  shards in parallel, as Kinesis' fleet serves one client) with ${answered} ms added: **${n(answeredRatio)}×**
  (target ≤ 1.2×: ${met(answeredRatio <= 1.2)}). What is left is the client's CPU per call, and the
  latency plus the client's CPU predicts it: (${answered} + ${n(answeredMost?.clientCpuMs ?? Number.NaN)}) / (${answered} + ${n(answeredOne?.clientCpuMs ?? Number.NaN)}) = ${n(clientFloor)}×.
- Against a real Kinesis a scache poll costs one round trip whatever the shard count, plus the
  client's CPU per call; a-h/scache's sequential reads cost (1 + 2 × shards) round trips.
`
}

/** Fewest and most containers reading one stream at the end of a run ('–' in older results). */
const readerSpread = (run: Partial<Pick<FleetResult, 'streams'>>): string => {
  const readers = (run.streams ?? []).map((stream) => stream.readers)
  return readers.length === 0 ? '–' : `${Math.min(...readers)}–${Math.max(...readers)}`
}

/**
 * For each replicated-stream setup, the smallest fleet that was throttled, and how its readers
 * and throttles fell on the streams.
 */
const firstThrottles = (r: FleetBenchResult) => {
  const limit = kinesisLimits.getRecordsPerSecond
  return r.setups
    .filter((summary) => summary.setup.streams > 1)
    .flatMap((summary) => {
      const index = summary.runs.findIndex((run) => run.throttles > 0)
      const run = summary.runs[index]
      const streams = (run as Partial<FleetResult> | undefined)?.streams
      if (run === undefined || streams === undefined || streams.length === 0) return []
      const { pollIntervalMs } = summary.setup
      return [
        {
          summary,
          size: r.sizes[index] ?? 0,
          run,
          busiest: streams.reduce((a, b) => (b.readers > a.readers ? b : a)),
          meanReaders: (r.sizes[index] ?? 0) / streams.length,
          topReadTps: Math.max(...streams.map((stream) => stream.readTpsPerShard)),
          // Throttles on streams read by no more containers than the limit.
          withinLimit: streams
            .filter((stream) => stream.readers <= limit)
            .reduce((sum, stream) => sum + stream.throttles, 0),
          // Each container then polls at most once in any second.
          oncePerSecond: pollIntervalMs * INTERVAL_JITTER_FLOOR >= 1_000,
        },
      ]
    })
}

const fleetRows = (summary: FleetSummary, sizes: readonly number[]): string[][] =>
  summary.runs.map((run, index) => [
    `${sizes[index]}`,
    ...(summary.setup.streams > 1 ? [readerSpread(run)] : []),
    `${n(run.readTpsPerShard)} / ${n(run.attemptedTpsPerShard)}`,
    `${run.throttles} (${pct(run.throttleRate)})`,
    `${n(run.pollsPerContainerPerSecond)}`,
    `${n(run.stalenessP50S)} / ${n(run.stalenessP99S)}`,
    `${pct(run.staleReadRate)} (max ${n(run.servedStalenessMaxS)} s)`,
    pct(run.bypassRate),
    pct(run.hitRatio),
    `${n(run.simulatedInS)} s`,
  ])

const fleetSection = (s: Section<FleetBenchResult>): string => {
  const r = s.result
  const w = r.workload
  const head = (streams: number) => [
    'containers',
    ...(streams > 1 ? ['readers per stream (fewest–most)'] : []),
    'GetRecords/s per shard (ok / sent)',
    'throttled calls',
    'polls/s per container',
    'staleness p50 / p99 (s)',
    'stale reads',
    'bypassed reads',
    'hit ratio',
    'simulated in',
  ]
  const byName = new Map(r.setups.map((summary) => [summary.name, summary]))
  const pairs = r.setups
    .filter((summary) => summary.setup.mode === 'adaptive')
    .map((adaptive) => {
      const fixedName = adaptive.name.replace(/^adaptive/, 'fixed')
      return { adaptive, fixed: byName.get(fixedName) }
    })
  const maxServed = Math.max(
    ...r.setups.flatMap((summary) => summary.runs.map((run) => run.servedStalenessMaxS)),
  )
  const throttlesAt = (summary: FleetSummary | undefined, size: number) =>
    summary?.runs[r.sizes.indexOf(size)]?.throttles ?? Number.NaN
  const limit = kinesisLimits.getRecordsPerSecond
  const first = firstThrottles(r)
  // Setups whose containers poll at most once in any second: there, a stream with no more
  // readers than the limit cannot be throttled.
  const bounded = first.filter((f) => f.oncePerSecond)
  const intervals = [...new Set(bounded.map((f) => f.summary.setup.pollIntervalMs))]
  const list = (format: (ms: number) => string) => intervals.map(format).join(' and ')
  const withinLimit = bounded.reduce((sum, f) => sum + f.withinLimit, 0)
  const bound =
    bounded.length === 0
      ? ''
      : `
At ${list((ms) => `${n(ms / 1_000)} s`)}, a container's polls are at least ${list((ms) => `${n((ms * INTERVAL_JITTER_FLOOR) / 1_000)} s`)} apart (the interval is
jittered down to ${n(INTERVAL_JITTER_FLOOR * 100)} % of it), so it reads a shard at most once in any second: a
stream with at most ${limit} readers cannot be throttled, whatever their timing, and
${
  withinLimit === 0
    ? 'every throttled call there was on a stream with more.'
    : `${n(withinLimit)} throttled calls there were on streams with ${limit} or fewer (pages, or a new iterator, within a poll).`
}
A stream with more is throttled when ${limit + 1} of its readers' polls fall within one second,
which their uncoordinated timing does now and then, at a mean rate well under ${limit} per second.
`
  const replicas =
    first.length === 0
      ? ''
      : `
**Where replicated streams throttle first.** Each container picks its stream at random, on its
own, as scache does in a real fleet, so the streams do not get equal shares of the fleet: the
busiest has well more readers than the mean, and it throttles while the mean is far from the
limit. That is why scache moves a throttled reader to another stream: in adaptive mode the
readers drain off the busiest streams, in fixed mode they stay. The smallest fleet that was
throttled, per setup, and how it fell on its streams (readers counted when the run ended):

${table(
  [
    'setup',
    'first fleet throttled',
    'readers per stream: mean / busiest',
    'GetRecords/s per shard: mean / busiest stream',
    'throttled calls',
    `of them on streams with at most ${limit} readers`,
  ],
  first.map((f) => [
    f.summary.name,
    n(f.size),
    `${n(f.meanReaders)} / ${f.busiest.readers}`,
    `${n(f.run.readTpsPerShard)} / ${n(f.topReadTps)}`,
    n(f.run.throttles),
    n(f.withinLimit),
  ]),
)}
${bound}`
  return `## 4. Fleet simulation

${measuredOn(s.machine)}

![p99 staleness against fleet size](fleet-staleness.svg)

**How it works.** [bench/fleet/simulate.ts](../bench/fleet/simulate.ts) runs N simulated warm
containers in virtual time. Each is scache's real code with a virtual clock (\`createScache({
clock: { now, random } })\`) and a client on [a simulated Kinesis](../bench/fleet/kinesis.ts)
that enforces Kinesis' documented limits: 5 GetRecords and 2 MiB read per second per shard,
5 GetShardIterator per second per shard, 1,000 ListShards per second per stream, 20
DescribeStreamSummary per second per account; over a limit it throws the SDK's own
\`ProvisionedThroughputExceededException\` (\`LimitExceededException\` for the control plane), and a
refused call takes no slot. A discrete-event loop runs requests and writes in time order; each
request awaits \`begin()\`, reads a key (a miss loads it in ${w.loadMs} ms and stores it with a TTL
of ${w.ttlMs.minMs / 1_000}–${w.ttlMs.maxMs / 1_000} s), and \`end()\`; each Kinesis call advances
the container's clock by ${w.callLatencyMs.min}–${w.callLatencyMs.max} ms (the shards of one poll
in parallel). Records become readable ${w.visibilityDelayMs} ms after they are written. Seeded
(${w.seed}): every run replays exactly.

Workload: ${w.requestsPerSecond} requests/s to each container, ${w.writesPerSecond} invalidations/s
fleet-wide, ${n(w.keys)} keys with Zipf(1) popularity, \`maxStalenessMs\` ${n(w.maxStalenessMs)},
\`onStreamError: 'bypass'\`; ${w.warmupMs / 1_000} s of warm-up, then ${w.durationMs / 1_000} s
measured.

- **adaptive** is scache itself: after a failed (throttled) poll the delay before the next
  doubles, up to half of \`maxStalenessMs\` (30 s at most), jittered down to half, and each
  success halves its exponent.
- **fixed** is the baseline: scache's \`StreamReader\` driven directly, polling every
  \`pollIntervalMs\` (with the same 80–100 % jitter and the same skip when nothing is cached)
  whatever the last poll met.
- **streams**: replicated streams (\`stream.names\`); each container reads one, picked at random,
  and writers put every invalidation on all of them. In adaptive mode, as in scache, a container
  whose poll is throttled moves to another stream at random (its cache cleared); fixed mode keeps
  its first pick.

**Staleness** of a write: from the write until every container that held a live entry of its key
at that moment has let go of it, by applying the invalidation (observed by a decoder on scache's
own read path), by clearing its cache, or by the entry's TTL ending; writes no container held are
not counted. It includes the idle time of containers that got no request (they poll only when a
request comes), and of containers that were bypassing their cache: a container in either state
serves nothing stale, so the columns **stale reads** (reads that returned a value older than the
source's, and the oldest such value) and **bypassed reads** say what callers saw.

${table(
  [
    'setup',
    'largest fleet with p99 staleness < 5 s',
    'throttled calls at 100',
    'throttled calls at 1,000',
  ],
  r.setups.map((summary) => [
    summary.name,
    summary.largestUnderTarget === 0
      ? `none of ${r.sizes[0]} or more`
      : `${summary.largestUnderTarget}`,
    n(throttlesAt(summary, 100)),
    n(throttlesAt(summary, 1_000)),
  ]),
)}

Fixed polling against scache's adaptive backoff, same topology, same seed (fixed → adaptive):

${table(
  ['topology', 'containers', 'throttled calls', 'bypassed reads', 'staleness p99 (s)', 'hit ratio'],
  pairs.flatMap(({ adaptive, fixed }) =>
    [10, 100, 1_000].map((size) => {
      const index = r.sizes.indexOf(size)
      const a = adaptive.runs[index]
      const f = fixed?.runs[index]
      if (a === undefined || f === undefined) return []
      return [
        adaptive.name.replace(/^adaptive, /, ''),
        n(size),
        `${n(f.throttles)} → ${n(a.throttles)}`,
        `${pct(f.bypassRate)} → ${pct(a.bypassRate)}`,
        `${n(f.stalenessP99S)} → ${n(a.stalenessP99S)}`,
        `${pct(f.hitRatio)} → ${pct(a.hitRatio)}`,
      ]
    }),
  ),
)}

What this says: every container reads every shard, so a stream serves about 5 / (polls per second
per container) containers before its shards throttle, whatever the shard count; past that,
staleness grows to the TTL and reads bypass the cache. Replicated streams multiply the budget,
but by less than their number: containers do not spread evenly over them, and adaptive mode,
which moves throttled readers off the crowded ones, gets closer to it than fixed mode (below).
On one stream the adaptive backoff does not raise the ceiling (no poll schedule can); it cuts
the throttled calls a fleet over budget makes, at the price of slower recovery for the containers that backed
off (they bypass their cache until their next successful poll), which the bypassed-reads and
staleness columns show. No read in any run returned a value more than ${n(maxServed)} s older
than the source's (\`maxStalenessMs\` is ${n(w.maxStalenessMs / 1_000)} s): a fleet over budget
bypasses its cache; it does not serve stale values.
${replicas}
${r.setups
  .map(
    (summary) => `### ${summary.name}

${table(head(summary.setup.streams), fleetRows(summary, r.sizes))}
`,
  )
  .join('\n')}`
}

const coldSection = (s: Section<ColdStartResult>): string => {
  const r = s.result
  const scacheBytes =
    (r.bundle.bytesBy['scache (src/)'] ?? 0) + (r.bundle.bytesBy['lru-cache'] ?? 0)
  return `## 5. Cold start

${measuredOn(s.machine)}

${table(
  ['part of the bundle', 'minified bytes'],
  [
    ...Object.entries(r.bundle.bytesBy)
      .sort((a, b) => b[1] - a[1])
      .map(([name, bytes]) => [name, kib(bytes)]),
    ['**total** (gzip)', `**${kib(r.bundle.bytes)}** (${kib(r.bundle.gzipBytes)})`],
  ],
)}

${table(
  ['import in a fresh node process', 'median ms'],
  Object.entries(r.importMs).map(([name, ms]) => [name, n(ms)]),
)}

- Bundle of ${r.bundle.entry}: **${kib(r.bundle.bytes)}** minified (target ≤ 25 KB: ${met(r.bundle.bytes <= 25_000)}), of
  which scache and lru-cache are ${kib(scacheBytes)}; ${kib(r.bundle.gzipBytes)} gzipped. lru-cache
  alone is ${kib(r.bundle.bytesBy['lru-cache'] ?? 0)}; scache's own code carries the options'
  validation, the reader, the publisher (for \`invalidate\`), the log line and the errors.
- Import of \`dist/index.js\` over \`@middy/core\` alone: **${n(r.scacheOverMiddyMs)} ms** (target ≤ 10 ms:
  ${met(r.scacheOverMiddyMs <= 10)}). Most of it is the AWS SDK's Kinesis client, which scache imports
  and the Lambda runtime provides but does not load: it takes ${n(r.importMs['@aws-sdk/client-kinesis'] ?? Number.NaN)} ms on its own.
  With the SDK already imported, \`dist/index.js\` (25 module files) adds
  ${n(r.scacheWithoutSdkOverMiddyMs)} ms over \`@middy/core\` (${met(r.scacheWithoutSdkOverMiddyMs <= 10)} against the same target), and the
  bundled handler, which is what a function deploys (scache, lru-cache, Middy and the HTTP
  handler in one file, the runtime's SDK clients already imported),
  ${n(r.bundleWithoutSdkOverMiddyMs)} ms (${met(r.bundleWithoutSdkOverMiddyMs <= 10)}).
- In a function that already uses another SDK client, most of the SDK's cost is paid already:
  after \`@aws-sdk/client-dynamodb\`, the Kinesis client adds
  ${n(r.kinesisAfterDynamoDbMs)} ms.
- Why the SDK is not loaded lazily, at the first poll: that would meet the import target by moving
  the same time from the function's init phase into its first invocation, where a caller waits for
  it. Init is where a cold start's work belongs (provisioned concurrency runs it ahead of any
  request).
- Why the bundle target is missed: lru-cache, which scache is built on, is
  ${kib(r.bundle.bytesBy['lru-cache'] ?? 0)} of the 25 KB on its own, and Middy
  ${kib(r.bundle.bytesBy['@middy/core'] ?? 0)}. Parsing and compiling the whole bundle is part of
  the ${n(r.bundleWithoutSdkOverMiddyMs)} ms above.
`
}

/** "low to high" of `values`, or one figure when they format alike. */
const range = (values: readonly number[], format: (value: number) => string): string => {
  const low = Math.min(...values)
  const high = Math.max(...values)
  return format(low) === format(high) ? format(low) : `${format(low)} to ${format(high)}`
}

const UNDER_TOLERANCE_BYTES = 8

const retainedPart = (r: MemoryResult): string => {
  if (r.retained === undefined) return ''
  const rows = Object.entries(r.retained)
  // Heap per value is measured to a few bytes: closer than this is not a difference.
  const isUnder = (estimate: number, held: number) =>
    estimate < held - Math.max(UNDER_TOLERANCE_BYTES, held / 100)
  const factor = (estimate: number, held: number) =>
    isUnder(estimate, held) ? `**${n(estimate / held)}× (under)**` : `${n(estimate / held)}×`
  const under = (pick: (v: RetainedShape) => number, estimate: (v: RetainedShape) => number) =>
    rows.filter(([, v]) => isUnder(estimate(v), pick(v))).map(([shape]) => shape)
  const entriesUnder = under(
    (v) => v.entry,
    (v) => v.entryEstimate,
  )
  const valuesUnder = under(
    (v) => v.value,
    (v) => v.valueEstimate,
  )
  const entryFactors = rows.map(([, v]) => v.entryEstimate / v.entry)
  return `
**The estimate against the heap.** ${n(r.retainedCount)} distinct values of each shape, held in
an array (the value alone, against \`estimateBytes\`), then written through \`context.cache.set\`
into one cache emptied before each shape (the whole entry: value, key, wrapper and store slot, against the bytes the
cache counts); heap is heapUsed plus ArrayBuffer memory after full collections
([bench/memory-retained.ts](../bench/memory-retained.ts)). An estimate under the heap an entry
retains would let the cache hold more than \`maxBytes\`; "under" means by more than
${UNDER_TOLERANCE_BYTES} bytes or 1 %, the measurement's resolution.

${table(
  [
    'value',
    'heap per value',
    'estimated',
    'estimate / heap',
    'heap per entry',
    'entry counted',
    'estimate / heap',
  ],
  rows.map(([shape, v]) => [
    shape,
    `${n(v.value)} B`,
    `${n(v.valueEstimate)} B`,
    v.value < 8 ? '(slot only)' : factor(v.valueEstimate, v.value),
    `${n(v.entry)} B`,
    `${n(v.entryEstimate)} B`,
    factor(v.entryEstimate, v.entry),
  ]),
)}

Per entry, the cache counts ${range(entryFactors, (x) => `${n(x)}×`)} the heap it retains; ${
    entriesUnder.length === 0 ? 'no shape is under' : `**under** for ${entriesUnder.join(', ')}`
  }.${
    valuesUnder.length === 0
      ? ''
      : ` For the value alone the estimate is under for ${valuesUnder.join(', ')} (by at most ${pct(
          1 -
            Math.min(
              ...rows
                .filter(([shape]) => valuesUnder.includes(shape))
                .map(([, v]) => v.valueEstimate / v.value),
            ),
        )}), which the per-entry overhead ${entriesUnder.length === 0 ? 'absorbs' : 'does not always absorb'}.${
          valuesUnder.some((shape) => shape.includes('delete'))
            ? ' An object that lost a property keeps a hash table sized by the properties it had, which no walk of its present properties can see.'
            : ''
        }`
  } Strings cost one byte a character when every character fits in one (the estimate counts
two), objects a word a property when V8 keeps them fast (the estimate counts up to 72 bytes, a
hash table's worst case): decoded JSON is over-estimated most.
`
}

const memorySection = (s: Section<MemoryResult>): string => {
  const r = s.result
  if ((r as Partial<MemoryResult>).empty === undefined)
    return `## 6. Memory\n\nThese results predate the sink baseline: run \`npm run bench -- memory\`.\n`
  const shapes = Object.entries(r.shapes)
  const budget = r.maxBytes
  const delta = (v: MemoryShape, part: (p: MemoryParts) => number | undefined) =>
    (part(v.filled) ?? Number.NaN) - (part(v.sink) ?? Number.NaN)
  const mibOr = (bytes: number | undefined) => (bytes === undefined ? 'n/a' : mib(bytes))
  const over = (pick: (v: MemoryShape) => number) =>
    Object.values(r.shapes).every((v) => pick(v) <= 0.2)
  const partRows: [string, (p: MemoryParts) => number | undefined][] = [
    ['RSS', (p) => p.rss],
    ['file-backed (node binary, libraries)', (p) => p.file],
    ['anonymous', (p) => p.anon],
    ['— V8 heap committed, all spaces', (p) => p.heapCommitted],
    ['—— new space (semi-spaces)', (p) => p.newSpace],
    ['—— old space', (p) => p.oldSpace],
    ['——— of which used', (p) => p.oldSpaceUsed],
    ['—— code space', (p) => p.codeSpace],
    ['—— large objects', (p) => p.largeObjects],
    ['—— other spaces', (p) => p.otherSpaces],
    ["— outside V8's spaces (malloc, pages kept mapped, stacks)", (p) => p.outsideHeap],
    ['heapUsed', (p) => p.heapUsed],
    ["external (buffers; outside V8's spaces)", (p) => p.external],
  ]
  const added = shapes.map(([shape, v]) => {
    const newSpace = delta(v, (p) => p.newSpace)
    const outside = delta(v, (p) => p.outsideHeap)
    const notes = [
      `old space ${signed(delta(v, (p) => p.oldSpace))} committed (${signed(delta(v, (p) => p.oldSpaceUsed))} used: the entries)`,
      `large objects ${signed(delta(v, (p) => p.largeObjects))} (tables too large for a page, such as lru-cache's key map)`,
      `new space ${signed(newSpace)}`,
      `outside V8's spaces ${signed(outside)}`,
    ]
    return { shape, v, newSpace, outside, notes }
  })
  // Growth the cache causes in memory V8 keeps rather than in what it holds: worth a sentence
  // only when it is a sizeable share of the budget.
  const grewYoung = added.filter((a) => a.newSpace > budget / 4)
  const grewOutside = added.filter((a) => a.outside > budget / 4)
  return `## 6. Memory

${measuredOn(s.machine)}

Budget \`maxBytes\` = ${mib(budget)}; ${r.factor} × that written as values decoded from JSON,
through \`context.cache.set\`; median of ${r.runs} runs, each in a fresh process after full
collections. Two baselines, measured in the same run:

- **empty cache**: the same process with the cache built and nothing written: RSS
  ${mib(r.emptyRss)}, heapUsed ${mib(r.emptyHeapUsed)}.
- **sink**: the same process generating the same values and writing them the same way, each
  evicted when the next is written: the same allocation, collected young, one value kept.

${table(
  [
    'values',
    'written',
    'entries held',
    'estimated bytes held',
    'heapUsed growth',
    'RSS growth over empty cache',
    'over maxBytes',
    'sink over empty cache',
    'RSS growth over sink',
    'over maxBytes',
  ],
  shapes.map(([shape, v]) => [
    shape,
    `${mib(v.writtenBytes)} (${n(v.writes)} entries)`,
    n(v.held),
    mib(v.estimatedBytes),
    `${mib(v.heapGrowth)} (${pct(v.heapOverhead)})`,
    mib(v.rssGrowth),
    pct(v.rssOverhead),
    mib(v.sinkRssGrowth),
    mib(v.rssGrowthOverSink),
    `**${pct(v.rssOverheadOverSink)}**`,
  ]),
)}

Target: growth within \`maxBytes\` + 20 %. Over the sink: ${met(over((v) => v.rssOverheadOverSink))}; over the empty cache: ${met(over((v) => v.rssOverhead))}; heapUsed: ${met(over((v) => v.heapOverhead))}.

Where the memory is (median of each line on its own, so the lines need not add up exactly):

${table(
  [
    'MiB',
    'empty cache',
    ...shapes.flatMap(([shape]) => [`${shape}: sink`, `${shape}: cache`, `${shape}: cache − sink`]),
  ],
  partRows.map(([name, part]) => [
    name,
    mibOr(part(r.empty)),
    ...shapes.flatMap(([, v]) => {
      const diff = delta(v, part)
      return [mibOr(part(v.sink)), mibOr(part(v.filled)), Number.isNaN(diff) ? 'n/a' : signed(diff)]
    }),
  ]),
)}

- **Writing alone** raises RSS by ${range(
    shapes.map(([, v]) => v.sinkRssGrowth),
    mib,
  )} over the empty cache, though the sink keeps one value; the young generation's
  semi-spaces account for ${range(
    shapes.map(([, v]) => v.sink.newSpace - r.empty.newSpace),
    mib,
  )} of it (new space ${mib(r.empty.newSpace)} in the empty cache, ${range(
    shapes.map(([, v]) => v.sink.newSpace),
    mib,
  )} in the sink): V8 grows them under sustained allocation and keeps them. A function
  producing these values pays that with or without a cache, and the empty-cache baseline
  leaves it in the cache's figure.
- **What the cache adds** over the sink: ${added
    .map((a) => `${a.shape}: RSS ${signed(a.v.rssGrowthOverSink)}, of which ${a.notes.join(', ')}`)
    .join('; ')}.${
    grewYoung.length === 0
      ? ''
      : ` The young generation grew further with the cache filled (${grewYoung
          .map((a) => `${a.shape} ${signed(a.newSpace)}`)
          .join(', ')}): V8 enlarges the semi-spaces when many young objects survive a
  scavenge, and entries held by the cache survive theirs.`
  }${
    grewOutside.length === 0
      ? ''
      : ` Memory outside V8's spaces grew too (${grewOutside
          .map((a) => `${a.shape} ${signed(a.outside)}`)
          .join(', ')}), which heapTotal does not show: pages V8 freed from its spaces but kept
  mapped, and malloc.`
  }
- **The live heap**: ${shapes
    .map(
      ([shape, v]) =>
        `${shape} hold ${mib(v.heapGrowth)} of heap for ${mib(v.estimatedBytes)} estimated (the estimate is ${n(v.estimatedBytes / v.heapGrowth)}× what they hold)`,
    )
    .join('; ')}. \`estimateBytes\` is an upper bound on V8's layouts (strings at 2 bytes a
  character, objects as dictionary-mode hash tables, ${ENTRY_OVERHEAD_BYTES} bytes an entry)${
    shapes.every(([, v]) => v.heapGrowth <= v.estimatedBytes)
      ? ', so the live cache stays under `maxBytes`'
      : ', yet here the live heap exceeds it: the estimate undercounts these values'
  }.

${retainedPart(r)}
The summary's target row uses the growth **over the sink**: it is what holding the entries
costs, with the cost of producing the values, which the cache does not cause, taken out. The
growth over the empty cache is the figure to size a function's memory with: what a process that
produced and cached this much data holds beyond an idle one.
`
}

export const renderReport = (results: Results): string => {
  const s = results.sections
  const summary: string[][] = []
  if (s.hitPath)
    summary.push([
      'Hit path: `context.cache.get` / lru-cache `get`',
      `${n(s.hitPath.result.ratioToLruCache)}×`,
      '≤ 1.5×',
      met(s.hitPath.result.ratioToLruCache <= 1.5),
    ])
  if (s.middleware)
    summary.push([
      'Middleware CPU per warm invocation, no poll due',
      `${n(s.middleware.result.overheadCpuUs)} µs`,
      '< 10 µs',
      met(s.middleware.result.overheadCpuUs < 10),
    ])
  if (s.streamCost) {
    const one = s.streamCost.result.rows.find((row) => row.shards === 1 && row.latencyMs === 0)
    summary.push([
      'Kinesis calls per warm poll, a-h/scache / scache, 1 shard',
      `${n(one?.callRatio ?? Number.NaN)}×`,
      '≥ 3×',
      met((one?.callRatio ?? 0) >= 3),
    ])
    for (const { latencyMs, backend } of s.streamCost.result.rows.filter(
      (row) => row.shards === 1,
    )) {
      const ratio = s.streamCost.result.fourToOneShard[setupKey(latencyMs, backend)] ?? Number.NaN
      const servedBy = backend === 'proxy' ? 'GetRecords answered by the proxy' : 'kinesalite'
      summary.push([
        `4-shard poll / 1-shard poll (${latencyMs} ms added per call, ${servedBy})`,
        `${n(ratio)}×`,
        '≤ 1.2×',
        met(ratio <= 1.2),
      ])
    }
  }
  if (s.fleet)
    for (const setup of s.fleet.result.setups)
      summary.push([
        `Fleet, ${setup.name}: largest with p99 staleness < 5 s`,
        setup.largestUnderTarget === 0 ? 'none' : `${setup.largestUnderTarget} containers`,
        '(reported)',
        '',
      ])
  if (s.coldStart) {
    summary.push([
      'Example handler bundle, minified',
      kib(s.coldStart.result.bundle.bytes),
      '≤ 25 KB',
      met(s.coldStart.result.bundle.bytes <= 25_000),
    ])
    summary.push([
      'Import dist/index.js over @middy/core',
      `${n(s.coldStart.result.scacheOverMiddyMs)} ms`,
      '≤ 10 ms',
      met(s.coldStart.result.scacheOverMiddyMs <= 10),
    ])
  }
  if (s.memory && s.memory.result.empty !== undefined)
    for (const [shape, v] of Object.entries(s.memory.result.shapes)) {
      summary.push([
        `RSS growth over maxBytes after writing 10 × maxBytes, over the sink (${shape})`,
        pct(v.rssOverheadOverSink),
        '≤ 20 %',
        met(v.rssOverheadOverSink <= 0.2),
      ])
      summary.push([
        `… over the empty cache (${shape}; what to size a function for)`,
        pct(v.rssOverhead),
        '(reported)',
        '',
      ])
    }
  return `${[
    header,
    `## Summary\n\n${table(['benchmark', 'measured', 'target', ''], summary)}\n`,
    s.hitPath && hitSection(s.hitPath),
    s.middleware && middlewareSection(s.middleware),
    s.streamCost && streamSection(s.streamCost),
    s.fleet && fleetSection(s.fleet),
    s.coldStart && coldSection(s.coldStart),
    s.memory && memorySection(s.memory),
  ]
    .filter((part): part is string => typeof part === 'string')
    .join('\n')
    .trimEnd()}\n`
}
