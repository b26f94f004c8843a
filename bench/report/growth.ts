import type { GrowthResult } from '../growth.js'
import { measuredOn, met, n, type Section, table } from './format.js'

export const growthSection = (s: Section<GrowthResult>): string => {
  const r = s.result
  return `## 7. Growth: a poll as the cache grows

${measuredOn(s.machine)}

${table(
  ['entries held', 'CPU µs per invocation with an empty poll'],
  Object.entries(r.emptyPollCpuUs).map(([name, us]) => [name, n(us)]),
)}

An empty poll with 100,000 entries costs **${n(r.emptyPollCost100kOver1Entry)}×** one with 1 entry
(target ≤ 1.5×: ${met(r.emptyPollCost100kOver1Entry <= 1.5)}): a poll does not walk the entries,
and "everything expired, skip the poll" is one comparison. Each figure is the median of ${r.rounds}
rounds of ${n(r.pollsPerRound)} invocations (\`begin()\` and \`end()\`, a poll due on each, answered
at once by a stubbed client with an empty page), the two caches interleaved in one process, CPU
time (\`process.cpuUsage\`).
`
}

/** The growth lines in the report's summary. */
export const growthSummary = (s: Section<GrowthResult>): string[][] => [
  [
    'Empty poll with 100k entries / with 1 entry, CPU',
    `${n(s.result.emptyPollCost100kOver1Entry)}×`,
    '≤ 1.5×',
    met(s.result.emptyPollCost100kOver1Entry <= 1.5),
  ],
]
