import type { InvalidationResult } from '../invalidation.js'
import { measuredOn, met, n, type Section, table } from './format.js'

const KINDS = [
  ['prefix', 'prefix `users:000012`'],
  ['tag', 'tag `group:12`'],
  ['pattern', 'pattern `people:000012*:profile`'],
] as const

export const invalidationSection = (s: Section<InvalidationResult>): string => {
  const r = s.result
  const sizes = Object.keys(r.us.prefix)
  return `## Invalidation growth

${measuredOn(s.machine)}

One invalidation evicting 10 entries from a \`Cache\` holding 1,000 to 1,000,000 (each entry with
one tag), median µs of 300, the 10 entries put back between them
([bench/invalidation.ts](../bench/invalidation.ts)):

${table(
  ['invalidation', ...sizes, '1M over 1k'],
  KINDS.map(([kind, label]) => [
    label,
    ...sizes.map((size) => n(r.us[kind][size] ?? Number.NaN)),
    n(r[`${kind}Invalidation1MOver1k`]),
  ]),
)}

- A prefix costs a lookup in the sorted key index plus its matches, a tag the entries tagged, a
  pattern the keys under its literal prefix (at most 10,000 per record): none walks the cache.
  Before the index, one prefix record cost 1.1–1.5 s at 1M entries (issue 15).
- heapUsed with 1M entries: ${n(r.heapBytesPerEntryAt1M)} bytes an entry, for an estimate of
  ${n(r.estimatedBytesPerEntryAt1M)} (\`cache.bytes\`; the indexes are in it).
`
}

export const invalidationSummary = (s: Section<InvalidationResult>): string[][] => [
  [
    'Prefix invalidation (10 matches) at 1M entries over 1k',
    `${n(s.result.prefixInvalidation1MOver1k)}×`,
    '≈ 1 (≤ 2)',
    met(s.result.prefixInvalidation1MOver1k <= 2),
  ],
  [
    'Tag invalidation (10 tagged) at 1M entries over 1k',
    `${n(s.result.tagInvalidation1MOver1k)}×`,
    '≈ 1 (≤ 2)',
    met(s.result.tagInvalidation1MOver1k <= 2),
  ],
]
