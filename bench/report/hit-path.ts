import type { HitPathResult } from '../hit-path.js'
import { measuredOn, met, n, type Section, table } from './format.js'

export const hitPathSection = (s: Section<HitPathResult>): string => {
  const r = s.result
  const ns = (name: string) => r.nsPerHit[name] ?? Number.NaN
  const lru = ns('lru-cache get')
  return `## 1. Hit path

${measuredOn(s.machine)}

${table(
  ['read', 'ns per hit', '× lru-cache get'],
  Object.keys(r.nsPerHit).map((name) => [name, n(ns(name)), n(ns(name) / lru)]),
)}

\`context.cache.get\`, on a fresh request cache from \`begin()\` per invocation with
${r.getsPerInvocation} hits each, is **${n(r.ratioToLruCache)}×** raw lru-cache \`get\` (target ≤ 1.3×:
${met(r.ratioToLruCache <= 1.3)}) and ${n(r.ratioToMap)}× \`Map.get\`.
${
  r.entryReadToLruCache === undefined
    ? ''
    : `
lru-cache's \`get\` never reads the value it returns. A hit must read its entry (expiry and cost):
lru-cache \`get\` followed by that one read, and nothing else (no clock, no staleness bound, no
counters), is already ${n(r.entryReadToLruCache)}× lru-cache \`get\`, the floor for any cache over
lru-cache whose entries carry their own expiry.
`
}
Each row runs alone in its own process (${r.rounds} processes each, interleaved, median): V8 shares
the inline caches of lru-cache's methods between every LRUCache in a process, so a second,
differently configured instance would slow the baseline's \`get\`. A hit reads the clock at most
once per run of code (the first read caches it and a microtask forgets it), checks the staleness
bound and the entry's own expiry against it, and hands back the stored entry.
`
}

/** The hit path's line in the report's summary. */
export const hitPathSummary = (s: Section<HitPathResult>): string[][] => [
  [
    'Hit path: `context.cache.get`, fresh per invocation / lru-cache `get`',
    `${n(s.result.ratioToLruCache)}×`,
    '≤ 1.3×',
    met(s.result.ratioToLruCache <= 1.3),
  ],
]
