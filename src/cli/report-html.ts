import { type Entry, type Summary, summaryRows } from './summary.js'

/** Everything shown comes from log lines, untrusted: escaped for HTML text and attributes. */
const esc = (text: string): string =>
  text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c,
  )

const MAX_BUCKETS = 60
/** Bucket widths a reader can take in at a glance. */
const STEPS_MS = [
  1, 5, 10, 50, 100, 500, 1_000, 5_000, 10_000, 30_000, 60_000, 300_000, 600_000, 1_800_000,
  3_600_000, 10_800_000, 21_600_000, 43_200_000, 86_400_000,
]

export interface Bucket {
  /** Start of the bucket: a time (ms) or, without timestamps, the first invocation's number. */
  readonly start: number
  readonly savedMs: number
  readonly streamMs: number
  readonly invocations: number
}

/**
 * Time spent and saved per bucket: by timestamp when every line has one, else by line order
 * (a file of plain JSON lines has no time).
 */
export const bucketize = (entries: readonly Entry[]): { buckets: Bucket[]; byTime: boolean } => {
  const times = entries.map((entry) => entry.time)
  const byTime = entries.length > 0 && times.every((time) => time !== undefined)
  const keys = byTime ? (times as number[]) : entries.map((_, index) => index)
  if (keys.length === 0) return { buckets: [], byTime }
  const first = Math.min(...keys)
  const span = Math.max(...keys) - first + 1
  const width = byTime
    ? (STEPS_MS.find((step) => span / step <= MAX_BUCKETS) ?? Math.ceil(span / MAX_BUCKETS))
    : Math.max(1, Math.ceil(span / MAX_BUCKETS))
  const origin = byTime ? Math.floor(first / width) * width : 0
  const count = Math.floor((Math.max(...keys) - origin) / width) + 1
  const buckets = Array.from({ length: count }, (_, i) => ({
    start: origin + i * width,
    savedMs: 0,
    streamMs: 0,
    invocations: 0,
  }))
  entries.forEach((entry, index) => {
    const bucket = buckets[Math.floor(((keys[index] ?? 0) - origin) / width)]
    if (bucket === undefined) return
    bucket.savedMs += entry.savedMs
    bucket.streamMs += entry.streamMs
    bucket.invocations++
  })
  return { buckets, byTime }
}

const round = (value: number): string => String(Math.round(value * 10) / 10)

/** A grid maximum from 1, 2 or 5 times a power of ten, at or above `value`. */
const niceMax = (value: number): number => {
  if (value <= 0) return 1
  const power = 10 ** Math.floor(Math.log10(value))
  return ([1, 2, 5, 10].find((f) => f * power >= value) ?? 10) * power
}

const bucketLabel = (start: number, byTime: boolean): string =>
  byTime ? new Date(start).toISOString().replace('T', ' ').replace('Z', '') : `#${start + 1}`

/** Bars of time saved and time on the stream per bucket, as inline SVG (no script, no links). */
export const renderChart = (entries: readonly Entry[]): string => {
  const { buckets, byTime } = bucketize(entries)
  const width = 760
  const height = 300
  const left = 64
  const right = 16
  const top = 36
  const bottom = 44
  const plotW = width - left - right
  const plotH = height - top - bottom
  const max = niceMax(Math.max(0, ...buckets.flatMap((b) => [b.savedMs, b.streamMs])))
  const slot = plotW / Math.max(1, buckets.length)
  const barW = Math.max(1, slot * 0.4)
  const y = (value: number) => top + plotH - (value / max) * plotH
  const bars = (series: 'saved' | 'spent', pick: (b: Bucket) => number, offset: number) =>
    buckets
      .map((b, i) => {
        const x = left + i * slot + offset
        const h = (pick(b) / max) * plotH
        const tip = `${bucketLabel(b.start, byTime)}: ${round(pick(b))} ms ${series === 'saved' ? 'saved' : 'on the stream'}, ${b.invocations} invocation${b.invocations === 1 ? '' : 's'}`
        return `<rect class="${series}" x="${round(x)}" y="${round(y(pick(b)))}" width="${round(barW)}" height="${round(h)}"><title>${esc(tip)}</title></rect>`
      })
      .join('')
  const grid = [0, 0.25, 0.5, 0.75, 1]
    .map((f) => {
      const gy = round(y(max * f))
      return `<line class="grid" x1="${left}" x2="${width - right}" y1="${gy}" y2="${gy}"/><text class="axis" x="${left - 6}" y="${gy}" text-anchor="end" dominant-baseline="middle">${round(max * f)}</text>`
    })
    .join('')
  const firstBucket = buckets[0]
  const lastBucket = buckets.at(-1)
  const xLabels =
    firstBucket === undefined || lastBucket === undefined
      ? ''
      : `<text class="axis" x="${left}" y="${height - bottom + 18}">${esc(bucketLabel(firstBucket.start, byTime))}</text>` +
        `<text class="axis" x="${width - right}" y="${height - bottom + 18}" text-anchor="end">${esc(bucketLabel(lastBucket.start, byTime))}</text>`
  const xTitle = byTime
    ? 'time (UTC), by log line timestamp'
    : 'invocations, in log order (no timestamps)'
  return [
    `<svg class="chart" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="Time saved by the cache and time spent on the stream">`,
    `<text class="legend saved-label" x="${left}" y="16">■ time saved (ms)</text>`,
    `<text class="legend spent-label" x="${left + 150}" y="16">■ time on the stream (ms)</text>`,
    grid,
    `<g class="series saved">${bars('saved', (b) => b.savedMs, slot * 0.1)}</g>`,
    `<g class="series spent">${bars('spent', (b) => b.streamMs, slot * 0.5)}</g>`,
    xLabels,
    `<text class="axis" x="${left + plotW / 2}" y="${height - 8}" text-anchor="middle">${xTitle}</text>`,
    `<text class="axis" x="14" y="${top + plotH / 2}" transform="rotate(-90 14 ${top + plotH / 2})" text-anchor="middle">ms per bucket</text>`,
    '</svg>',
  ].join('\n')
}

/** The whole page: styles inline, no script, no external reference. */
export const renderHtml = (summary: Summary, entries: readonly Entry[]): string => {
  const rows = summaryRows(summary)
    .map(([name, value]) => `<tr><th>${esc(name)}</th><td>${esc(value)}</td></tr>`)
    .join('\n')
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>scache report</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 2rem; color: #222; }
h1 { font-size: 1.4rem; }
table { border-collapse: collapse; }
th, td { text-align: left; padding: 4px 12px 4px 0; border-bottom: 1px solid #ddd; vertical-align: top; }
th { font-weight: 600; }
.chart { max-width: 100%; height: auto; }
.chart .saved, .saved-label { fill: #2e7d32; }
.chart .spent, .spent-label { fill: #e65100; }
.chart .grid { stroke: #e0e0e0; }
.chart .axis { font-size: 11px; fill: #555; }
.chart .legend { font-size: 12px; }
</style>
</head>
<body>
<h1>scache report</h1>
<p>${summary.invocations} invocations${summary.from === null ? '' : ` from ${esc(summary.from)} to ${esc(summary.to ?? '')}`}.</p>
${renderChart(entries)}
<h2>Summary</h2>
<table>
${rows}
</table>
</body>
</html>
`
}
