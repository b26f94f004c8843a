import type { MiddlewareResult } from '../middleware.js'
import { measuredOn, met, n, type Section, table } from './format.js'

export const middlewareSection = (s: Section<MiddlewareResult>): string => {
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
${
  r.warmInvocationUsOverMiddy === undefined
    ? ''
    : `
With the default log line (\`log: true\`: serialised and written to stdout, which a sink stands in
for), a warm invocation costs **${n(r.warmInvocationUsOverMiddy)} µs of CPU** over Middy alone
(target ≤ 3 µs: ${met(r.warmInvocationUsOverMiddy <= 3)}).
`
}`
}

/** The middleware's line in the report's summary. */
export const middlewareSummary = (s: Section<MiddlewareResult>): string[][] => [
  [
    'Middleware CPU per warm invocation, no poll due',
    `${n(s.result.overheadCpuUs)} µs`,
    '< 10 µs',
    met(s.result.overheadCpuUs < 10),
  ],
  ...(s.result.warmInvocationUsOverMiddy === undefined
    ? []
    : [
        [
          'Warm invocation with the default log line, CPU over Middy alone',
          `${n(s.result.warmInvocationUsOverMiddy)} µs`,
          '≤ 3 µs',
          met(s.result.warmInvocationUsOverMiddy <= 3),
        ],
      ]),
]
