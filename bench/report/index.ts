import type { ColdStartResult } from '../cold-start.js'
import type { FleetBenchResult } from '../fleet/index.js'
import type { GoodputResult } from '../goodput.js'
import type { GrowthResult } from '../growth.js'
import type { HitPathResult } from '../hit-path.js'
import type { InvalidationResult } from '../invalidation.js'
import type { MemoryResult } from '../memory.js'
import type { MiddlewareResult } from '../middleware.js'
import type { ReadPathResult } from '../read-path.js'
import type { StreamCostResult } from '../stream-cost.js'
import { coldStartSection, coldStartSummary } from './cold-start.js'
import { fleetSection, fleetSummary } from './fleet.js'
import { type Section, table } from './format.js'
import { goodputSection, goodputSummary } from './goodput.js'
import { growthSection, growthSummary } from './growth.js'
import { type Headlines, headlineRows } from './headlines.js'
import { hitPathSection, hitPathSummary } from './hit-path.js'
import { invalidationSection, invalidationSummary } from './invalidation.js'
import { memorySection, memorySummary } from './memory.js'
import { middlewareSection, middlewareSummary } from './middleware.js'
import { readPathSection, readPathSummary } from './read-path.js'
import { streamCostSection, streamCostSummary } from './stream-cost.js'

/**
 * docs/BENCHMARKS.md from bench/results.json: the header, a summary of every target, then one
 * section per benchmark (each in its own file here, beside the benchmark it reports on).
 */
export const sectionNames = [
  'hitPath',
  'middleware',
  'streamCost',
  'fleet',
  'coldStart',
  'memory',
  'growth',
  'goodput',
  'invalidation',
  'readPath',
] as const
export type SectionName = (typeof sectionNames)[number]

export interface Results {
  /** The figures the targets are stated in: see headlines.ts. */
  headlines?: Headlines
  sections: {
    hitPath?: Section<HitPathResult>
    middleware?: Section<MiddlewareResult>
    streamCost?: Section<StreamCostResult>
    fleet?: Section<FleetBenchResult>
    coldStart?: Section<ColdStartResult>
    memory?: Section<MemoryResult>
    growth?: Section<GrowthResult>
    goodput?: Section<GoodputResult>
    invalidation?: Section<InvalidationResult>
    readPath?: Section<ReadPathResult>
  }
}

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
| Hit path | ns per hit of \`context.cache.get\` on 1,000 cached keys as Lambda calls it: a fresh request cache from \`begin()\` per invocation, 100 hits per invocation timed with \`process.hrtime\` (median invocation of each sample, median of 15 samples); beside it raw \`lru-cache\` \`get\` (and followed by one read of the entry it returns), \`Map.get\` and scache's store, each contender alone in a fresh process (9 each, interleaved, median). | [bench/hit-path.ts](../bench/hit-path.ts) |
| Middleware overhead | Wall and CPU time (\`process.cpuUsage\`, user + system) per warm invocation of a Middy handler with and without scache, 7 rounds of 20,000 invocations in rotating order, median. Stream I/O stubbed: no poll is due (\`pollIntervalMs\` of an hour), and, in a separate row, a poll on every invocation answered at once by a \`KinesisClient\` whose \`send\` returns empty \`GetRecords\`. | [bench/middleware.ts](../bench/middleware.ts) |
| Stream cost | Kinesis calls (counted by the limits proxy) and wall time per warm poll, against kinesalite behind the limits proxy (test/support/limits-proxy.ts), both in a child process ([bench/lib/kinesis-host.ts](../bench/lib/kinesis-host.ts)) as a real Kinesis is never in its client's process, reached over loopback HTTP by the real SDK client, built as scache builds its default one: scache (\`pollIntervalMs: 0\`) against the per-request read of a-h/scache (ListShards, then GetShardIterator and GetRecords per shard in sequence; [bench/baseline](../bench/baseline/per-request-reader.ts)). 1 and 4 shards, each reader with its own stream, proxy and client; in each setup the four are polled one after the other, 4 times a second, in an order that rotates; nothing new on the stream; the proxy adds 0 ms (loopback) or 10 ms (about an in-region call) to each call; in a third setup, with 10 ms added, the proxy answers GetRecords itself, at once, instead of kinesalite (\`answerReads\`). Beside the wall time, the CPU both processes spent during each poll (\`process.cpuUsage\`, user + system); medians. | [bench/stream-cost.ts](../bench/stream-cost.ts) |
| Fleet simulation | N containers running scache's real code in virtual time against a simulated Kinesis that enforces the per-shard limits; see [below](#4-fleet-simulation). | [bench/fleet/](../bench/fleet) |
| Cold start | The users API handler (examples/users-api/api.ts) bundled with template.yaml's esbuild settings, as \`sam build\` does (minified ESM, ES modules first, all but \`@aws-sdk/*\` inside); and the time a fresh \`node\` process takes to import the package (\`dist/index.js\`), against \`@middy/core\` alone: 25 processes each, interleaved, median. | [bench/cold-start.ts](../bench/cold-start.ts) |
| Invalidation growth | µs per prefix, tag and pattern invalidation evicting 10 entries from a \`Cache\` of the built package holding 1k, 100k and 1M entries, median of 300 (the entries put back between them); heapUsed per entry at 1M after full collections. | [bench/invalidation.ts](../bench/invalidation.ts) |
| Read path | Client CPU (\`process.cpuUsage\`, user + system) per GetRecords through scache's default client, on the SDK path and the lean one, against a local HTTP server in another process answering a page of one 200-byte record: 9 rounds of 400 calls, alternating which path goes first, median. | [bench/read-path.ts](../bench/read-path.ts) |
| Memory | RSS and \`heapUsed\` after writing 10 × \`maxBytes\` (32 MiB) of values through \`context.cache.set\`, in a child process with \`--expose-gc\` after full collections, against the same process with an empty cache, and against the same process writing the same values through a sink that keeps only the latest (the same allocation); V8's heap space by space and resident memory by kind; objects (user records) and 1 KB strings, decoded from JSON as a handler receives them; median of the runs. | [bench/memory.ts](../bench/memory.ts) |
| Growth | CPU time (\`process.cpuUsage\`) per invocation with an empty poll due (stubbed client), with 1 and with 100,000 entries cached, interleaved in one process. | [bench/growth.ts](../bench/growth.ts) |
| Goodput under faults | Share of strict-mode reads served from the cache, and stale reads, with 3 containers invoked through the Middy middleware against kinesalite behind the limits proxy (child process, loopback HTTP, the real SDK client) while a writer publishes invalidations: without faults, and with 20% of \`GetRecords\` calls failing (5xx, connection resets, throttles). | [bench/goodput.ts](../bench/goodput.ts) |
`

export const renderReport = (results: Results): string => {
  const s = results.sections
  const summary = [
    ...(s.hitPath ? hitPathSummary(s.hitPath) : []),
    ...(s.middleware ? middlewareSummary(s.middleware) : []),
    ...(s.streamCost ? streamCostSummary(s.streamCost) : []),
    ...(s.fleet ? fleetSummary(s.fleet) : []),
    ...(s.coldStart ? coldStartSummary(s.coldStart) : []),
    ...(s.memory ? memorySummary(s.memory) : []),
    ...(s.growth ? growthSummary(s.growth) : []),
    ...(s.goodput ? goodputSummary(s.goodput) : []),
    ...(s.invalidation ? invalidationSummary(s.invalidation) : []),
    ...(s.readPath ? readPathSummary(s.readPath) : []),
  ]
  const headlines = headlineRows(results.headlines ?? {})
  return `${[
    header,
    headlines.length === 0
      ? undefined
      : `## Headlines\n\nIn [bench/results.json](../bench/results.json) as \`headlines\`, each from the latest run of its section.\n\n${table(['headline', 'value', 'target', ''], headlines)}\n`,
    `## Summary\n\n${table(['benchmark', 'measured', 'target', ''], summary)}\n`,
    s.hitPath && hitPathSection(s.hitPath),
    s.middleware && middlewareSection(s.middleware),
    s.streamCost && streamCostSection(s.streamCost),
    s.fleet && fleetSection(s.fleet),
    s.coldStart && coldStartSection(s.coldStart),
    s.memory && memorySection(s.memory),
    s.growth && growthSection(s.growth),
    s.goodput && goodputSection(s.goodput),
    s.invalidation && invalidationSection(s.invalidation),
    s.readPath && readPathSection(s.readPath),
  ]
    .filter((part): part is string => typeof part === 'string')
    .join('\n')
    .trimEnd()}\n`
}
