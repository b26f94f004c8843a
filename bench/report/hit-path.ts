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
counters), is already ${n(r.entryReadToLruCache)}× lru-cache \`get\`, the least any cache costs that
reads its entries through lru-cache's \`get\`.
`
}
Each row runs alone in its own process (${r.rounds} processes each, interleaved, median): V8 shares
the inline caches of lru-cache's methods between every LRUCache in a process, so a second,
differently configured instance would slow the baseline's \`get\`. The baseline itself runs in
one of two states, decided per process: about a third faster when V8 inlines lru-cache's \`get\`
(about 700 bytes of bytecode with what it inlines) into the benchmark's loop than when it calls
it. \`context.cache.get\` does not read through lru-cache's \`get\`: a hit is one lookup in the
cache's own map of entries (kept in step with the store by lru-cache's insert and dispose hooks),
a comparison of the entry's expiry with the time kept for the run of code (the clock read once per
run, the staleness bound checked with it, forgotten as soon as either could change), a
comparison of the entry's recency period with that time's, and the counts of the hit and the time
it saved. Only the first hit of an entry in each second moves it to the recent end, with one
lru-cache \`get\`: eviction is least recently used to within a second. The benchmark's entries are
hot (each key is hit thousands of times a second), so it measures hits that do not move; the
first hit of an entry in a second pays the move too, out of line: one lru-cache \`get\` beyond the
lookup.
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
