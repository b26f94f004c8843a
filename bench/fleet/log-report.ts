import { dynamoDBLimits } from './dynamodb.js'
import {
  type FleetLogResult,
  LONG_FLEET,
  type LogRun,
  type LogSetupSummary,
  SHORT_DURATION_MS,
} from './log.js'

const n = (value: number, digits = 3): string => {
  if (!Number.isFinite(value)) return String(value)
  const abs = Math.abs(value)
  const rounded =
    abs >= 100 ? Math.round(value) : Number(value.toPrecision(abs >= 1 ? digits : digits - 1))
  return rounded.toLocaleString('en-US', { maximumFractionDigits: 3 })
}
const usd = (value: number) => `$${n(value)}`
const table = (head: readonly string[], rows: readonly (readonly string[])[]): string =>
  [
    `| ${head.join(' | ')} |`,
    `| ${head.map((_, i) => (i === 0 ? '---' : '---:')).join(' | ')} |`,
    ...rows.map((row) => `| ${row.join(' | ')} |`),
  ].join('\n')
const met = (ok: boolean) => (ok ? 'met' : '**missed**')

/** Where each price was read (us-east-1), for the cost model. */
export const priceSources = [
  'Kinesis Data Streams, provisioned: $0.015 per shard-hour; GetRecords carries no charge of its own for standard consumers ([AWS pricing page](http://aws.amazon.com/kinesis/pricing/): "Getting records from Amazon Kinesis stream is free"; the hourly figure as quoted for us-east-1 by [a calculator citing it](https://costcalculator.calculator.city/aws-kinesis-cost-calculator))',
  'DynamoDB on demand: $0.125 per million read request units, $0.625 per million write request units, after the 50 % cut of November 2024 ([Airbyte, July 2025](https://airbyte.com/data-engineering-resources/dynamodb-pricing); [JusDB, August 2025](https://www.jusdb.com/blog/dynamodb-cost-optimization-a-comprehensive-guide-by-jusdb))',
  'DynamoDB provisioned: $0.00013 per RCU-hour, $0.00065 per WCU-hour ([ZeonEdge](https://zeonedge.com/en/blog/dynamodb-cost-optimization-on-demand-provisioned-dax-single-table))',
  'Lambda (x86): $0.20 per million requests, $0.0000166667 per GB-second ([How AWS Pricing Works: Lambda](https://docs.aws.amazon.com/whitepapers/latest/how-aws-pricing-works/lambda.html))',
]

const row = (run: LogRun, log: boolean): string[] => [
  n(run.containers),
  `${n(run.servedStalenessP99S)} s`,
  `${n(run.servedStalenessMaxS)} s`,
  `${n(run.stalenessP99S)} s`,
  `${n(run.stalenessMaxS)} s`,
  n(run.throttledReads),
  n(run.throttles),
  `${n(run.bypassRate * 100)} %`,
  log
    ? `${n(run.log?.readUnitsPerSecond ?? 0)} (${n(run.log?.peakReadUnitsPerSecond ?? 0)})`
    : `${n(run.readTpsPerShard)}`,
  log ? usd(run.cost?.onDemandUsdPerMonth ?? Number.NaN) : '',
  log ? usd(run.cost?.provisionedUsdPerMonth ?? Number.NaN) : '',
  log
    ? `${n(run.cost?.directStreamsNeeded ?? 0)} / ${usd(run.cost?.directUsdPerMonth ?? Number.NaN)}`
    : '',
]

const setupTable = (summary: LogSetupSummary): string => {
  const log = summary.setup.kind === 'log'
  const head = [
    'containers',
    'served p99',
    'served max',
    'let-go p99',
    'let-go max',
    'reads throttled',
    'calls throttled',
    'bypassed',
    ...(log
      ? [
          'read units/s (peak s)',
          'reads on demand /month',
          'provisioned for the peak /month',
          'direct: streams / month',
        ]
      : ['GetRecords/s/shard']),
  ]
  return table(
    head,
    summary.runs.map((run) => row(run, log).slice(0, head.length)),
  )
}

/**
 * The docs/BENCHMARKS.md section for direct reading against log mode (bench/fleet/log.ts), as a
 * string of Markdown: goals, one table per setup, the model and the prices with their sources.
 */
export const fleetLogSection = (r: FleetLogResult): string => {
  const h = r.headlines
  const [direct, single, copies] = r.setups
  const relay = single?.runs.find((run) => run.containers === 1_000)
  const w = r.workload
  const goals = table(
    ['goal', 'measured', 'target', ''],
    [
      [
        `log mode, largest fleet at 1 s with served p99 < ${r.stalenessTargetS} s and 0 reads throttled (\`fleetLogLargestUnder2500msP99\`)`,
        n(h.fleetLogLargestUnder2500msP99),
        '≥ 1,000',
        met(h.fleetLogLargestUnder2500msP99 >= 1_000),
      ],
      [
        `log mode with ${copies?.setup.copies ?? '?'} copies, the same (\`fleetLogCopiesLargestUnder2500msP99\`)`,
        n(h.fleetLogCopiesLargestUnder2500msP99),
        '≥ 10,000',
        met(h.fleetLogCopiesLargestUnder2500msP99 >= 10_000),
      ],
      [
        'log mode, containers’ reads per month at 1,000 containers, on demand (`fleetLogReadUsdPerMonthAt1000`)',
        usd(h.fleetLogReadUsdPerMonthAt1000),
        '≤ $350',
        met(h.fleetLogReadUsdPerMonthAt1000 <= 350),
      ],
      [
        'direct (1 stream, 1 shard), largest fleet under the same target',
        n(direct?.largestUnderTarget ?? 0),
        '(reported)',
        '',
      ],
    ],
  )
  const sections = r.setups
    .map((summary) => `**${summary.setup.name}**\n\n${setupTable(summary)}\n`)
    .join('\n')
  return `## Fleet simulation: direct against log mode

Containers reading the stream directly against containers reading the log table (one Query per
poll) that a relay fills from the stream's event source mapping, ${r.sizes.map((s) => n(s)).join(', ')}
containers, every one simulated, at a 1 s poll interval on the workload above (${n(w.requestsPerSecond)} requests/s per
container, ${n(w.writesPerSecond)} invalidations/s fleet-wide). Fleets of ${n(LONG_FLEET)} and more are measured for ${n(SHORT_DURATION_MS / 1_000)} s
instead of ${n(w.durationMs / 1_000)} s (after the same warm-up), to keep 10,000 containers to minutes on two cores.

${goals}

${sections}
**Reading the tables.** *Served* staleness is the staleness a caller saw: of the reads that
returned a value older than the source's, how long ago the newer value was written (p99 and max):
the bound the consistency contract states, and the one the goals use. *Let-go* staleness is the
fleet's: from a write until the last container that held the key let go of it. Scache polls
before a request, never on a timer (Lambda freezes containers between requests), so a container
lets go at its first request after the poll is due; with N containers the slowest of them waits
for its next request about ln N ÷ ${n(w.requestsPerSecond)} s, which no reader design removes, and it serves
nothing stale meanwhile. *Reads throttled* are the containers' own reads a limit refused
(GetRecords direct, Query in log mode); *calls throttled* adds every other call (the mapping's
GetRecords, the relay's writes). Read units: the containers' Queries per second, mean and the
busiest second. Costs are per month (730 hours) at the measured rates: log mode's reads on demand,
and provisioned at the busiest second's units; *direct* is what reading the stream directly would
need for the same polls with no read throttled, a lower bound: single-shard replicated streams at
5 GetRecords/s each, priced by the shard-hour (more shards in one stream do not help: every
container reads every shard).

**The model.** [bench/fleet/dynamodb.ts](../bench/fleet/dynamodb.ts) answers the commands the log
source and relay send (\`QueryCommand\` on the copy's partition and \`seq\`, with \`ConsistentRead\`,
\`Limit\` and \`ExclusiveStartKey\`; \`PutItemCommand\` with \`attribute_not_exists\`) through
\`client.send\`, in each caller's virtual clock, with ${n(r.log.callLatencyMs.min)}–${n(r.log.callLatencyMs.max)} ms per call. Each copy
(\`log#0\`…) is one partition serving ${n(dynamoDBLimits.readUnitsPerSecondPerPartition)} read units/s or ${n(dynamoDBLimits.writeUnitsPerSecondPerPartition)} write units/s
(shared linearly) in any one-second window; past it, \`ProvisionedThroughputExceededException\`
with reason \`TableReadKeyRangeThroughputExceeded\` (a provisioned table's capacity and an on-demand
maximum are modelled too: \`ThrottlingException\` for the latter). A Query costs its returned
items' summed size in 4 KB steps, 1 unit each strongly consistent, 0.5 eventually consistent, at
least one step. [bench/fleet/mapping.ts](../bench/fleet/mapping.ts) runs the event source mapping
per shard: GetRecords about once a second (one of the shard's 5/s), BatchSize ${n(r.log.batchSize)}, the relay
invoked after ${n(r.log.invokeMs)} ms with the Kinesis event, again at once after a full batch, a failed batch
retried; a heartbeat record goes on the stream every ${n(r.log.heartbeatIntervalMs / 1_000)} s.${relay?.log === undefined ? '' : ` At 1,000 containers the relay ran ${n(relay.log.invocationsPerSecond)} times a second, ${n(relay.log.invocationP50Ms)} ms at p50 and ${n(relay.log.invocationMaxMs)} ms at most, writing ${n(relay.log.writeUnitsPerSecond)} units/s; the relay and writes cost ${usd((relay.cost?.relayUsdPerMonth ?? 0) + (relay.cost?.writesUsdPerMonth ?? 0))} a month.`}
The stream's own shard-hour (writers put there in both modes) is left out of both.

**Prices (us-east-1).**

${priceSources.map((source) => `- ${source}`).join('\n')}
`
}
