import type { GoodputResult } from '../goodput.js'
import { measuredOn, met, n, pct, type Section, table } from './format.js'

export const goodputSection = (s: Section<GoodputResult>): string => {
  const r = s.result
  const c = r.scenario
  return `## 7. Goodput under faults

${measuredOn(s.machine)}

${c.containers} strict-mode containers (\`pollIntervalMs: 0\`, \`onStreamError: 'bypass'\`), each
invoked through the Middy middleware about once a second (${n(c.requestGapMs[0])}–${n(c.requestGapMs[1])} ms
between requests), ${c.readsPerRequest} \`getOrLoad\` reads of ${c.keys} keys per request, caches warm; a
writer publishes an invalidation every ${n(c.writeGapMs[0])}–${n(c.writeGapMs[1])} ms; ${n(c.durationMs / 1_000)} s measured per
run. A read is stale if its version's successor was acknowledged before the request began (the
strict-mode bound).

${table(
  [
    'GetRecords failing',
    'reads',
    'from cache',
    'missed',
    'bypassed',
    'polls failed',
    'stale reads',
    'GetRecords (5xx / reset / throttle)',
    'throttled by limits',
  ],
  r.runs.map((run) => [
    `${pct(run.faultShare)} (measured ${pct(run.faultedShare)})`,
    n(run.reads),
    `**${pct(run.hitRatio)}**`,
    n(run.misses),
    n(run.bypassed),
    `${n(run.pollsFailed)} of ${n(run.polls)}`,
    n(run.stale),
    `${n(run.getRecords)} (${run.faults['5xx']} / ${run.faults.reset} / ${run.faults.throttle})`,
    n(run.throttledByLimits),
  ]),
)}

With ${pct(r.runs[1]?.faultShare ?? 0)} of GetRecords calls failing, **${pct(r.strictHitRatioAt20pctFaults)}** of strict-mode
reads were served from the cache (target ≥ 80 %: ${met(r.strictHitRatioAt20pctFaults >= 0.8)}), ${pct(r.retainedVsNoFaults)} of the
fault-free run's share, which the invalidations bound (each evicts its key in every container).
A 5xx or a reset is retried within the poll's budget; a throttle is not, and the request's reads
go to the source (the next poll backs off). Misses are invalidated keys read again.
`
}

/** The goodput line in the report's summary. */
export const goodputSummary = (s: Section<GoodputResult>): string[][] => {
  const faulty = s.result.runs[1]
  return [
    [
      'Strict-mode reads from cache, 20 % of GetRecords failing',
      `${pct(s.result.strictHitRatioAt20pctFaults)} (${faulty?.stale ?? 0} stale)`,
      '≥ 80 %, 0 stale',
      met(s.result.strictHitRatioAt20pctFaults >= 0.8 && faulty?.stale === 0),
    ],
  ]
}
