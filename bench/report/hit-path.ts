import type { HitPathResult } from '../hit-path.js'
import { measuredOn, met, n, type Section, table } from './format.js'

export const hitPathSection = (s: Section<HitPathResult>): string => {
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

/** The hit path's line in the report's summary. */
export const hitPathSummary = (s: Section<HitPathResult>): string[][] => [
  [
    'Hit path: `context.cache.get` / lru-cache `get`',
    `${n(s.result.ratioToLruCache)}×`,
    '≤ 1.5×',
    met(s.result.ratioToLruCache <= 1.5),
  ],
]
