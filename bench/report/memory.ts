import {
  DICTIONARY_PROPERTIES,
  ENTRY_OVERHEAD_BYTES,
  JSON_DICTIONARY_PROPERTIES,
} from '../../src/cache/size.js'
import type { MemoryParts, MemoryResult, MemoryShape, RetainedShape } from '../memory.js'
import { measuredOn, met, mib, n, pct, type Section, signed, table } from './format.js'

/** "low to high" of `values`, or one figure when they format alike. */
const range = (values: readonly number[], format: (value: number) => string): string => {
  const low = Math.min(...values)
  const high = Math.max(...values)
  return format(low) === format(high) ? format(low) : `${format(low)} to ${format(high)}`
}

const UNDER_TOLERANCE_BYTES = 8

const retainedPart = (r: MemoryResult): string => {
  if (r.retained === undefined) return ''
  const rows = Object.entries(r.retained)
  // Heap per value is measured to a few bytes: closer than this is not a difference.
  const isUnder = (estimate: number, held: number) =>
    estimate < held - Math.max(UNDER_TOLERANCE_BYTES, held / 100)
  const factor = (estimate: number, held: number) =>
    isUnder(estimate, held) ? `**${n(estimate / held)}× (under)**` : `${n(estimate / held)}×`
  const under = (pick: (v: RetainedShape) => number, estimate: (v: RetainedShape) => number) =>
    rows.filter(([, v]) => isUnder(estimate(v), pick(v))).map(([shape]) => shape)
  const entriesUnder = under(
    (v) => v.entry,
    (v) => v.entryEstimate,
  )
  const valuesUnder = under(
    (v) => v.value,
    (v) => v.valueEstimate,
  )
  const entryFactors = rows.map(([, v]) => v.entryEstimate / v.entry)
  const decoded = rows.filter(([, v]) => v.entryEstimateJson !== undefined)
  const jsonEstimate = (v: RetainedShape) => v.entryEstimateJson ?? Number.NaN
  const jsonFactors = decoded.map(([, v]) => jsonEstimate(v) / v.entry)
  const jsonUnder = decoded.filter(([, v]) => isUnder(jsonEstimate(v), v.entry))
  const defaultFactors = decoded.map(([, v]) => v.entryEstimate / v.entry)
  return `
**The estimate against the heap.** ${n(r.retainedCount)} distinct values of each shape, in a
process of its own per shape, held in
an array (the value alone, against \`estimateBytes\`), then written through \`context.cache.set\`
into an empty cache (the whole entry: value, key, wrapper and store slot, against the bytes the
cache counts); heap is heapUsed plus ArrayBuffer memory after full collections
([bench/memory-retained.ts](../bench/memory-retained.ts)). An estimate under the heap an entry
retains would let the cache hold more than \`maxBytes\`; "under" means by more than
${UNDER_TOLERANCE_BYTES} bytes or 1 %, the measurement's resolution.

${table(
  [
    'value',
    'heap per value',
    'estimated',
    'estimate / heap',
    'heap per entry',
    'entry counted',
    'estimate / heap',
    "counted, `madeBy: 'json'`",
    'estimate / heap',
  ],
  rows.map(([shape, v]) => [
    shape,
    `${n(v.value)} B`,
    `${n(v.valueEstimate)} B`,
    v.value < 8 ? '(slot only)' : factor(v.valueEstimate, v.value),
    `${n(v.entry)} B`,
    `${n(v.entryEstimate)} B`,
    factor(v.entryEstimate, v.entry),
    v.entryEstimateJson === undefined ? '' : `${n(v.entryEstimateJson)} B`,
    v.entryEstimateJson === undefined ? '' : factor(v.entryEstimateJson, v.entry),
  ]),
)}

Per entry, the cache counts ${range(entryFactors, (x) => `${n(x)}×`)} the heap it retains; ${
    entriesUnder.length === 0 ? 'no shape is under' : `**under** for ${entriesUnder.join(', ')}`
  }.${
    valuesUnder.length === 0
      ? ''
      : ` For the value alone the estimate is under for ${valuesUnder.join(', ')} (by at most ${pct(
          1 -
            Math.min(
              ...rows
                .filter(([shape]) => valuesUnder.includes(shape))
                .map(([, v]) => v.valueEstimate / v.value),
            ),
        )}), which the per-entry overhead ${entriesUnder.length === 0 ? 'absorbs' : 'does not always absorb'}.${
          valuesUnder.some((shape) => shape.includes('delete'))
            ? ' An object that lost a property keeps a hash table sized by the properties it had, which no walk of its present properties can see.'
            : ''
        }`
  } The extremes are what no walk of a value can see. How an object was built: from
${DICTIONARY_PROPERTIES} properties the estimate counts the hash table V8 makes when properties are added through
computed keys (\`o[k] = v\` in a loop), where JSON.parse keeps up to ${JSON_DICTIONARY_PROPERTIES - 1} in fast mode, a word a
property. A \`delete\`, which puts a small object in a hash table. A string shared between
entries, counted in each. An array's spare capacity, counted as if \`push\` had grown it, where
JSON.parse leaves none.
${
  decoded.length === 0
    ? ''
    : `
The last two columns, for the ${decoded.length} shapes decoded from JSON: the same values written
through a second cache whose \`sizeOf\` is \`(value) => estimateBytes(value, { madeBy: 'json' })\`
(unmeasured: the heap is the first cache's), which counts plain objects in fast mode below
${JSON_DICTIONARY_PROPERTIES} properties and arrays at their length. Per entry it counts ${range(
        jsonFactors,
        (x) => `${n(x)}×`,
      )} the heap, where the default counts ${range(defaultFactors, (x) => `${n(x)}×`)} for these shapes; ${
        jsonUnder.length === 0
          ? 'no shape is under'
          : `**under** for ${jsonUnder.map(([shape]) => shape).join(', ')}`
      }. Nothing it is told changes the \`delete\` above: a small object that lost a property is
under-counted with the option as without.
`
}`
}

export const memorySection = (s: Section<MemoryResult>): string => {
  const r = s.result
  if ((r as Partial<MemoryResult>).empty === undefined)
    return `## 6. Memory\n\nThese results predate the sink baseline: run \`npm run bench -- memory\`.\n`
  const shapes = Object.entries(r.shapes)
  const budget = r.maxBytes
  const delta = (v: MemoryShape, part: (p: MemoryParts) => number | undefined) =>
    (part(v.filled) ?? Number.NaN) - (part(v.sink) ?? Number.NaN)
  const mibOr = (bytes: number | undefined) => (bytes === undefined ? 'n/a' : mib(bytes))
  const over = (pick: (v: MemoryShape) => number) =>
    Object.values(r.shapes).every((v) => pick(v) <= 0.2)
  const partRows: [string, (p: MemoryParts) => number | undefined][] = [
    ['RSS', (p) => p.rss],
    ['file-backed (node binary, libraries)', (p) => p.file],
    ['anonymous', (p) => p.anon],
    ['— V8 heap committed, all spaces', (p) => p.heapCommitted],
    ['—— new space (semi-spaces)', (p) => p.newSpace],
    ['—— old space', (p) => p.oldSpace],
    ['——— of which used', (p) => p.oldSpaceUsed],
    ['—— code space', (p) => p.codeSpace],
    ['—— large objects', (p) => p.largeObjects],
    ['—— other spaces', (p) => p.otherSpaces],
    ["— outside V8's spaces (malloc, pages kept mapped, stacks)", (p) => p.outsideHeap],
    ['heapUsed', (p) => p.heapUsed],
    ["external (buffers; outside V8's spaces)", (p) => p.external],
  ]
  const added = shapes.map(([shape, v]) => {
    const newSpace = delta(v, (p) => p.newSpace)
    const outside = delta(v, (p) => p.outsideHeap)
    const notes = [
      `old space ${signed(delta(v, (p) => p.oldSpace))} committed (${signed(delta(v, (p) => p.oldSpaceUsed))} used: the entries)`,
      `large objects ${signed(delta(v, (p) => p.largeObjects))} (tables too large for a page, such as lru-cache's key map)`,
      `new space ${signed(newSpace)}`,
      `outside V8's spaces ${signed(outside)}`,
    ]
    return { shape, v, newSpace, outside, notes }
  })
  // Growth the cache causes in memory V8 keeps rather than in what it holds: worth a sentence
  // only when it is a sizeable share of the budget.
  const grewYoung = added.filter((a) => a.newSpace > budget / 4)
  const grewOutside = added.filter((a) => a.outside > budget / 4)
  return `## 6. Memory

${measuredOn(s.machine)}

Budget \`maxBytes\` = ${mib(budget)}; ${r.factor} × that written as values decoded from JSON,
through \`context.cache.set\`; median of ${r.runs} runs, each in a fresh process after full
collections. Two baselines, measured in the same run:

- **empty cache**: the same process with the cache built and nothing written: RSS
  ${mib(r.emptyRss)}, heapUsed ${mib(r.emptyHeapUsed)}.
- **sink**: the same process generating the same values and writing them the same way, each
  evicted when the next is written: the same allocation, collected young, one value kept.

${table(
  [
    'values',
    'written',
    'entries held',
    'estimated bytes held',
    'heapUsed growth',
    'RSS growth over empty cache',
    'over maxBytes',
    'sink over empty cache',
    'RSS growth over sink',
    'over maxBytes',
  ],
  shapes.map(([shape, v]) => [
    shape,
    `${mib(v.writtenBytes)} (${n(v.writes)} entries)`,
    n(v.held),
    mib(v.estimatedBytes),
    `${mib(v.heapGrowth)} (${pct(v.heapOverhead)})`,
    mib(v.rssGrowth),
    pct(v.rssOverhead),
    mib(v.sinkRssGrowth),
    mib(v.rssGrowthOverSink),
    `**${pct(v.rssOverheadOverSink)}**`,
  ]),
)}

Target: growth within \`maxBytes\` + 20 %. Over the sink: ${met(over((v) => v.rssOverheadOverSink))}; over the empty cache: ${met(over((v) => v.rssOverhead))}; heapUsed: ${met(over((v) => v.heapOverhead))}.

Where the memory is (median of each line on its own, so the lines need not add up exactly):

${table(
  [
    'MiB',
    'empty cache',
    ...shapes.flatMap(([shape]) => [`${shape}: sink`, `${shape}: cache`, `${shape}: cache − sink`]),
  ],
  partRows.map(([name, part]) => [
    name,
    mibOr(part(r.empty)),
    ...shapes.flatMap(([, v]) => {
      const diff = delta(v, part)
      return [mibOr(part(v.sink)), mibOr(part(v.filled)), Number.isNaN(diff) ? 'n/a' : signed(diff)]
    }),
  ]),
)}

- **Writing alone** raises RSS by ${range(
    shapes.map(([, v]) => v.sinkRssGrowth),
    mib,
  )} over the empty cache, though the sink keeps one value; the young generation's
  semi-spaces account for ${range(
    shapes.map(([, v]) => v.sink.newSpace - r.empty.newSpace),
    mib,
  )} of it (new space ${mib(r.empty.newSpace)} in the empty cache, ${range(
    shapes.map(([, v]) => v.sink.newSpace),
    mib,
  )} in the sink): V8 grows them under sustained allocation and keeps them. A function
  producing these values pays that with or without a cache, and the empty-cache baseline
  leaves it in the cache's figure.
- **What the cache adds** over the sink: ${added
    .map((a) => `${a.shape}: RSS ${signed(a.v.rssGrowthOverSink)}, of which ${a.notes.join(', ')}`)
    .join('; ')}.${
    grewYoung.length === 0
      ? ''
      : ` The young generation grew further with the cache filled (${grewYoung
          .map((a) => `${a.shape} ${signed(a.newSpace)}`)
          .join(', ')}): V8 enlarges the semi-spaces when many young objects survive a
  scavenge, and entries held by the cache survive theirs.`
  }${
    grewOutside.length === 0
      ? ''
      : ` Memory outside V8's spaces grew too (${grewOutside
          .map((a) => `${a.shape} ${signed(a.outside)}`)
          .join(', ')}), which heapTotal does not show: pages V8 freed from its spaces but kept
  mapped, and malloc.`
  }
- **The live heap**: ${shapes
    .map(
      ([shape, v]) =>
        `${shape} hold ${mib(v.heapGrowth)} of heap for ${mib(v.estimatedBytes)} estimated (the estimate is ${n(v.estimatedBytes / v.heapGrowth)}× what they hold)`,
    )
    .join('; ')}. \`estimateBytes\` models V8's layouts (strings at a byte a character, two
  beyond Latin-1; objects at 24 bytes and 8 a property, their hidden class once per list of keys,
  or from ${DICTIONARY_PROPERTIES} properties as hash tables; ${ENTRY_OVERHEAD_BYTES} bytes an entry)${
    shapes.every(([, v]) => v.heapGrowth <= v.estimatedBytes)
      ? ', so the live cache stays under `maxBytes`'
      : ', yet here the live heap exceeds it: the estimate undercounts these values'
  }.

${retainedPart(r)}
The summary's target row uses the growth **over the sink**: it is what holding the entries
costs, with the cost of producing the values, which the cache does not cause, taken out. The
growth over the empty cache is the figure to size a function's memory with: what a process that
produced and cached this much data holds beyond an idle one.
`
}

/** The memory lines in the report's summary, two per shape (none in results without a baseline). */
export const memorySummary = (s: Section<MemoryResult>): string[][] =>
  s.result.empty === undefined
    ? []
    : Object.entries(s.result.shapes).flatMap(([shape, v]) => [
        [
          `RSS growth over maxBytes after writing 10 × maxBytes, over the sink (${shape})`,
          pct(v.rssOverheadOverSink),
          '≤ 20 %',
          met(v.rssOverheadOverSink <= 0.2),
        ],
        [
          `… over the empty cache (${shape}; what to size a function for)`,
          pct(v.rssOverhead),
          '(reported)',
          '',
        ],
      ])
