import type { FleetBenchResult, FleetSummary } from '../fleet/index.js'
import { kinesisLimits } from '../fleet/kinesis.js'
import { type FleetResult, INTERVAL_JITTER_FLOOR } from '../fleet/simulate.js'
import { measuredOn, n, pct, type Section, table } from './format.js'

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

export const fleetSection = (s: Section<FleetBenchResult>): string => {
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

/** The fleet's lines in the report's summary: one per setup, reported without a target. */
export const fleetSummary = (s: Section<FleetBenchResult>): string[][] =>
  s.result.setups.map((setup) => [
    `Fleet, ${setup.name}: largest with p99 staleness < 5 s`,
    setup.largestUnderTarget === 0 ? 'none' : `${setup.largestUnderTarget} containers`,
    '(reported)',
    '',
  ])
