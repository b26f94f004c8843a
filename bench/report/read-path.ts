import type { ReadPathResult } from '../read-path.js'
import { measuredOn, met, n, type Section, table } from './format.js'

export const readPathSection = (s: Section<ReadPathResult>): string => {
  const r = s.result
  return `## 7. Read path

${measuredOn(s.machine)}

${table(
  ['GetRecords through', 'client CPU ms per call (median)', 'per round'],
  [
    [
      "the SDK (`client.send`, `readPath: 'sdk'`)",
      n(r.cpuMsPerGetRecords.sdk),
      r.rounds.sdk.map((v) => n(v)).join(', '),
    ],
    [
      "the lean path (`readPath: 'lean'`, the default)",
      n(r.cpuMsPerGetRecords.lean),
      r.rounds.lean.map((v) => n(v)).join(', '),
    ],
  ],
)}

- A warm poll makes one GetRecords per shard: its client CPU is **${n(r.pollClientCpuMsPerShard)} ms per
  shard** on the lean path, **${n(r.leanOverSdk)}×** the SDK's (target ≤ 0.5×: ${met(r.leanOverSdk <= 0.5)}).
  Both paths use scache's default client (its keep-alive agent, its credentials); the lean one
  signs with the client's own signer and skips the middleware stack and schema serde.
`
}

export const readPathSummary = (s: Section<ReadPathResult>): string[][] => [
  [
    'Client CPU per GetRecords, lean over SDK',
    `${n(s.result.pollClientCpuMsPerShard)} ms (${n(s.result.leanOverSdk)}×)`,
    '≤ 0.5×',
    met(s.result.leanOverSdk <= 0.5),
  ],
]
