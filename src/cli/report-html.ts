import { type Entry, type Summary, summaryRows, UNKNOWN_CONTAINER } from './summary.js'

/** Everything shown comes from log lines, untrusted: escaped for HTML text and attributes. */
const esc = (text: string): string =>
  text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c,
  )

const MAX_BUCKETS = 60
/** Containers drawn as their own series; the rest are drawn together as `others`. */
export const MAX_SERIES = 12
export const OTHERS = 'others'
/** Bucket widths (and time-axis steps) a reader can take in at a glance. */
const STEPS_MS = [
  1, 5, 10, 50, 100, 500, 1_000, 5_000, 10_000, 30_000, 60_000, 300_000, 600_000, 1_800_000,
  3_600_000, 10_800_000, 21_600_000, 43_200_000, 86_400_000,
]
const COLORS = [
  '#1565c0',
  '#c62828',
  '#2e7d32',
  '#6a1b9a',
  '#ef6c00',
  '#00838f',
  '#ad1457',
  '#4e342e',
  '#558b2f',
  '#283593',
  '#9e9d24',
  '#37474f',
  '#757575',
]

/** How lines map to buckets: by timestamp when every line has one, else by line order. */
export interface Axis {
  readonly byTime: boolean
  /** Start of the first bucket, and each bucket's width: ms, or invocations in log order. */
  readonly origin: number
  readonly width: number
  readonly count: number
}

export interface Bucket {
  /** Start of the bucket: a time (ms) or, without timestamps, the first invocation's number. */
  readonly start: number
  readonly savedMs: number
  readonly streamMs: number
  readonly invocations: number
}

/** A container's reads and staleness per bucket (null where it served nothing). */
export interface Series {
  readonly name: string
  readonly hitRatio: readonly (number | null)[]
  readonly maxStalenessMs: readonly (number | null)[]
}

const keysOf = (entries: readonly Entry[]): { keys: number[]; byTime: boolean } => {
  const byTime = entries.length > 0 && entries.every((entry) => entry.time !== undefined)
  return { byTime, keys: entries.map((entry, index) => (byTime ? (entry.time as number) : index)) }
}

const minOf = (values: readonly number[]) =>
  values.reduce((min, v) => Math.min(min, v), Number.POSITIVE_INFINITY)
const maxOf = (values: readonly number[]) =>
  values.reduce((max, v) => Math.max(max, v), Number.NEGATIVE_INFINITY)

/** Lines per container a bucket should hold on average: a ratio of one read is 0 or 100 %. */
const LINES_PER_BUCKET = 3

/**
 * The buckets' axis, from the first line to the last: buckets of a readable width, at most 60,
 * and few enough that each container has a few lines in each.
 */
export const axisOf = (entries: readonly Entry[]): Axis => {
  const { keys, byTime } = keysOf(entries)
  if (keys.length === 0) return { byTime, origin: 0, width: 1, count: 0 }
  const first = minOf(keys)
  const last = maxOf(keys)
  const span = last - first + 1
  const containers = new Set(entries.map((entry) => entry.container)).size
  const most = Math.min(MAX_BUCKETS, Math.ceil(entries.length / containers / LINES_PER_BUCKET))
  const width = byTime
    ? (STEPS_MS.find((step) => span / step <= most) ?? Math.ceil(span / most))
    : Math.max(1, Math.ceil(span / most))
  const origin = byTime ? Math.floor(first / width) * width : 0
  return { byTime, origin, width, count: Math.floor((last - origin) / width) + 1 }
}

const bucketIndex = (axis: Axis, key: number) => Math.floor((key - axis.origin) / axis.width)

/** Time spent and saved per bucket. */
export const bucketize = (entries: readonly Entry[]): { buckets: Bucket[]; byTime: boolean } => {
  const axis = axisOf(entries)
  const { keys } = keysOf(entries)
  const buckets = Array.from({ length: axis.count }, (_, i) => ({
    start: axis.origin + i * axis.width,
    savedMs: 0,
    streamMs: 0,
    invocations: 0,
  }))
  entries.forEach((entry, index) => {
    const bucket = buckets[bucketIndex(axis, keys[index] ?? 0)]
    if (bucket === undefined) return
    bucket.savedMs += entry.savedMs
    bucket.streamMs += entry.streamMs
    bucket.invocations++
  })
  return { buckets, byTime: axis.byTime }
}

/**
 * Hit ratio and worst staleness per bucket, a series per container: the busiest MAX_SERIES − 1
 * by name, the rest together as `others` when there are more.
 */
export const seriesOf = (entries: readonly Entry[], axis: Axis = axisOf(entries)): Series[] => {
  const { keys } = keysOf(entries)
  const counts = new Map<string, number>()
  for (const entry of entries) {
    const name = entry.container ?? UNKNOWN_CONTAINER
    counts.set(name, (counts.get(name) ?? 0) + 1)
  }
  const ranked = [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
  const own = new Set(
    ranked.slice(0, ranked.length > MAX_SERIES ? MAX_SERIES - 1 : MAX_SERIES).map(([n]) => n),
  )
  const acc = new Map<string, { hits: number[]; reads: number[]; stale: (number | null)[] }>()
  entries.forEach((entry, index) => {
    const container = entry.container ?? UNKNOWN_CONTAINER
    const name = own.has(container) ? container : OTHERS
    let series = acc.get(name)
    if (series === undefined) {
      series = {
        hits: new Array<number>(axis.count).fill(0),
        reads: new Array<number>(axis.count).fill(0),
        stale: new Array<number | null>(axis.count).fill(null),
      }
      acc.set(name, series)
    }
    const i = bucketIndex(axis, keys[index] ?? 0)
    series.hits[i] = (series.hits[i] ?? 0) + entry.hits
    series.reads[i] = (series.reads[i] ?? 0) + entry.hits + entry.misses
    series.stale[i] = Math.max(series.stale[i] ?? 0, entry.stalenessMs)
  })
  const order = [...own, OTHERS]
  return [...acc]
    .sort((a, b) => order.indexOf(a[0]) - order.indexOf(b[0]))
    .map(([name, { hits, reads, stale }]) => ({
      name,
      hitRatio: reads.map((n, i) => (n === 0 ? null : (hits[i] ?? 0) / n)),
      maxStalenessMs: stale,
    }))
}

const round = (value: number): string => String(Math.round(value * 10) / 10)

/** A grid maximum from 1, 2 or 5 times a power of ten, at or above `value`. */
const niceMax = (value: number): number => {
  if (value <= 0) return 1
  const power = 10 ** Math.floor(Math.log10(value))
  return ([1, 2, 5, 10].find((f) => f * power >= value) ?? 10) * power
}

/** A container's log stream, short: `[$LATEST]` and the first 8 characters of its id. */
export const shortName = (name: string): string => {
  const match = /\[[^\]]*\](.*)$/.exec(name)
  if (match === null) return name.length > 24 ? `${name.slice(0, 23)}…` : name
  const id = match[1] ?? ''
  return `${match[0].slice(0, match[0].length - id.length)}${id.slice(0, 8)}`
}

const pad = (n: number) => String(n).padStart(2, '0')

/** Time-axis ticks: at most about 7, on round times, inside the axis' range. */
const ticksOf = (axis: Axis): { at: number; label: string }[] => {
  const from = axis.origin
  const to = axis.origin + axis.count * axis.width
  const span = Math.max(1, to - from)
  if (!axis.byTime) {
    const step = niceMax(span / 6)
    const ticks = []
    for (let at = 0; at <= to; at += step) ticks.push({ at, label: `#${at + 1}` })
    return ticks
  }
  const step = STEPS_MS.find((s) => span / s <= 7) ?? niceMax(span / 7)
  const ticks = []
  for (let at = Math.ceil(from / step) * step; at <= to; at += step) {
    const d = new Date(at)
    const clock =
      step < 1_000
        ? `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}.${String(d.getUTCMilliseconds()).padStart(3, '0')}`
        : step < 60_000
          ? `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`
          : `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`
    const label =
      span > 86_400_000 ? `${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${clock}` : clock
    ticks.push({ at, label })
  }
  return ticks
}

const bucketLabel = (start: number, byTime: boolean): string =>
  byTime ? new Date(start).toISOString().replace('T', ' ').replace('Z', '') : `#${start + 1}`

/** The frame every chart shares: plot area, x axis with ticks, y grid. */
interface Frame {
  readonly width: number
  readonly height: number
  readonly left: number
  readonly top: number
  readonly plotW: number
  readonly plotH: number
}

const FRAME: Frame = {
  width: 1000,
  height: 260,
  left: 64,
  top: 32,
  plotW: 1000 - 64 - 20,
  plotH: 260 - 32 - 48,
}

const xTitleOf = (axis: Axis) => {
  if (!axis.byTime) return 'invocations, in log order (no timestamps)'
  const day = new Date(axis.origin).toISOString().slice(0, 10)
  return `time (UTC), ${day}, by log line timestamp`
}

/** The x axis: ticks at their times, the axis title; `x` maps an axis value to a position. */
const xAxis = (axis: Axis, frame: Frame) => {
  const to = axis.origin + Math.max(1, axis.count) * axis.width
  const x = (value: number) =>
    frame.left + ((value - axis.origin) / (to - axis.origin)) * frame.plotW
  const base = frame.top + frame.plotH
  const ticks = axis.count === 0 ? [] : ticksOf(axis)
  // Labels at the ends of the axis are anchored inward, so that they stay inside the chart.
  const anchor = (at: number) =>
    x(at) > frame.left + frame.plotW - 40 ? 'end' : x(at) < frame.left + 40 ? 'start' : 'middle'
  const marks = ticks
    .map(
      ({ at, label }) =>
        `<line class="tick" x1="${round(x(at))}" x2="${round(x(at))}" y1="${base}" y2="${base + 5}"/>` +
        `<text class="axis tick-label" x="${round(x(at))}" y="${base + 18}" text-anchor="${anchor(at)}">${esc(label)}</text>`,
    )
    .join('')
  const title = `<text class="axis" x="${frame.left + frame.plotW / 2}" y="${frame.height - 6}" text-anchor="middle">${esc(xTitleOf(axis))}</text>`
  return {
    x,
    to,
    svg: `<line class="baseline" x1="${frame.left}" x2="${frame.left + frame.plotW}" y1="${base}" y2="${base}"/>${marks}${title}`,
  }
}

/** A y axis from `min` to `max` with five grid lines; `y` maps a value to a position. */
const yAxis = (min: number, max: number, frame: Frame, unit: string, format = round) => {
  // Grid labels carry numbers only; the unit is in the axis title.
  const y = (value: number) => frame.top + frame.plotH - ((value - min) / (max - min)) * frame.plotH
  const grid = [0, 0.25, 0.5, 0.75, 1]
    .map((f) => {
      const value = min + (max - min) * f
      const gy = round(y(value))
      return `<line class="grid" x1="${frame.left}" x2="${frame.left + frame.plotW}" y1="${gy}" y2="${gy}"/><text class="axis" x="${frame.left - 6}" y="${gy}" text-anchor="end" dominant-baseline="middle">${format(value)}</text>`
    })
    .join('')
  const title = `<text class="axis" x="14" y="${frame.top + frame.plotH / 2}" transform="rotate(-90 14 ${frame.top + frame.plotH / 2})" text-anchor="middle">${esc(unit)}</text>`
  return { y, svg: grid + title }
}

const svgOpen = (name: string, label: string, axis: Axis, to: number, yMin: number, yMax: number) =>
  `<svg class="chart ${name}" viewBox="0 0 ${FRAME.width} ${FRAME.height}" width="${FRAME.width}" height="${FRAME.height}" role="img" aria-label="${esc(label)}" data-x-min="${axis.origin}" data-x-max="${to}" data-y-min="${yMin}" data-y-max="${yMax}">`

/** Bars of time saved and time on the stream per bucket, as inline SVG (no script, no links). */
export const renderChart = (entries: readonly Entry[]): string => {
  const axis = axisOf(entries)
  const { buckets, byTime } = bucketize(entries)
  const max = niceMax(maxOf([0, ...buckets.flatMap((b) => [b.savedMs, b.streamMs])]))
  const xs = xAxis(axis, FRAME)
  const ys = yAxis(0, max, FRAME, 'ms per bucket')
  const slot = FRAME.plotW / Math.max(1, buckets.length)
  const barW = Math.max(1, slot * 0.4)
  const bars = (series: 'saved' | 'spent', pick: (b: Bucket) => number, offset: number) =>
    buckets
      .map((b, i) => {
        const x = FRAME.left + i * slot + offset
        const h = (pick(b) / max) * FRAME.plotH
        const tip = `${bucketLabel(b.start, byTime)}: ${round(pick(b))} ms ${series === 'saved' ? 'saved' : 'on the stream'}, ${b.invocations} invocation${b.invocations === 1 ? '' : 's'}`
        return `<rect class="${series}" x="${round(x)}" y="${round(ys.y(pick(b)))}" width="${round(barW)}" height="${round(h)}"><title>${esc(tip)}</title></rect>`
      })
      .join('')
  return [
    svgOpen('time', 'Time saved by the cache and time spent on the stream', axis, xs.to, 0, max),
    `<text class="legend saved-label" x="${FRAME.left}" y="16">■ time saved (ms)</text>`,
    `<text class="legend spent-label" x="${FRAME.left + 150}" y="16">■ time on the stream (ms)</text>`,
    ys.svg,
    `<g class="series saved">${bars('saved', (b) => b.savedMs, slot * 0.1)}</g>`,
    `<g class="series spent">${bars('spent', (b) => b.streamMs, slot * 0.5)}</g>`,
    xs.svg,
    '</svg>',
  ].join('\n')
}

/** A line chart with a series per container: points at bucket centres, gaps where no data. */
const renderLines = (
  name: string,
  label: string,
  unit: string,
  axis: Axis,
  series: readonly Series[],
  pick: (s: Series) => readonly (number | null)[],
  range: (values: number[]) => { min: number; max: number },
  format: (value: number) => string,
  /** Appended to a point's value in its tooltip. */
  tipUnit = '',
): string => {
  const values = series.flatMap((s) => pick(s).filter((v): v is number => v !== null))
  const { min, max } = range(values)
  const xs = xAxis(axis, FRAME)
  const ys = yAxis(min, max, FRAME, unit, format)
  const lines = series
    .map((s, index) => {
      const color = COLORS[index % COLORS.length]
      let path = ''
      let open = false
      const dots: string[] = []
      pick(s).forEach((value, i) => {
        if (value === null) {
          open = false
          return
        }
        const px = round(xs.x(axis.origin + (i + 0.5) * axis.width))
        const py = round(ys.y(value))
        path += `${open ? 'L' : 'M'}${px} ${py} `
        open = true
        const when = bucketLabel(axis.origin + i * axis.width, axis.byTime)
        dots.push(
          `<circle cx="${px}" cy="${py}" r="2.5"><title>${esc(`${shortName(s.name)} ${when}: ${format(value)}${tipUnit}`)}</title></circle>`,
        )
      })
      return `<g class="series" data-container="${esc(s.name)}" stroke="${color}" fill="${color}"><path d="${path.trim()}" fill="none" stroke-width="1.5"/>${dots.join('')}</g>`
    })
    .join('\n')
  const legend = series
    .map(
      (s, index) =>
        `<text class="legend" x="${FRAME.left + (index % 6) * 150}" y="${index < 6 ? 12 : 26}" fill="${COLORS[index % COLORS.length]}">■ ${esc(shortName(s.name))}</text>`,
    )
    .join('')
  return [
    svgOpen(name, label, axis, xs.to, min, max),
    legend,
    ys.svg,
    lines,
    xs.svg,
    '</svg>',
  ].join('\n')
}

const percent = (value: number) => `${Math.round(value * 1000) / 10}%`

/** Hit ratio per bucket and container, its axis from a round floor under the lowest to 100 %. */
export const renderHitRatio = (entries: readonly Entry[], axis = axisOf(entries)): string =>
  renderLines(
    'hit-ratio',
    'Hit ratio over time, per container',
    'hit ratio (%)',
    axis,
    seriesOf(entries, axis),
    (s) => s.hitRatio,
    (values) => {
      const lowest = values.length === 0 ? 0 : minOf(values)
      return { min: Math.min(0.9, Math.floor(lowest * 10) / 10), max: 1 }
    },
    percent,
  )

/** Worst staleness per bucket and container, its axis from 0 to a round maximum above it. */
export const renderStaleness = (entries: readonly Entry[], axis = axisOf(entries)): string =>
  renderLines(
    'staleness',
    'Staleness over time, per container',
    'staleness (ms)',
    axis,
    seriesOf(entries, axis),
    (s) => s.maxStalenessMs,
    (values) => ({ min: 0, max: niceMax(maxOf([0, ...values])) }),
    round,
    ' ms',
  )

const fmtRatio = (ratio: number | null) => (ratio === null ? '-' : percent(ratio))

/** The whole page: styles inline, no script, no external reference. */
export const renderHtml = (summary: Summary, entries: readonly Entry[]): string => {
  const axis = axisOf(entries)
  const rows = summaryRows(summary)
    .map(([name, value]) => `<tr><th>${esc(name)}</th><td>${esc(value)}</td></tr>`)
    .join('\n')
  const series = seriesOf(entries, axis)
  const colorOf = (name: string) => {
    const index = series.findIndex((s) => s.name === name)
    return index < 0 ? COLORS[COLORS.length - 1] : COLORS[index % COLORS.length]
  }
  const containers = summary.containers
    .map(
      (c) =>
        `<tr><td><span class="swatch" style="background:${colorOf(series.some((s) => s.name === c.name) ? c.name : OTHERS)}"></span>${esc(c.name)}</td>` +
        `<td>${c.invocations}</td><td>${esc(fmtRatio(c.hitRatio))}</td><td>${c.hits}</td><td>${c.misses}</td>` +
        `<td>${c.bypassed}</td><td>${round(c.savedMs)}</td><td>${round(c.streamMs)}</td><td>${c.polls}</td>` +
        `<td>${round(c.maxStalenessMs)}</td><td>${c.streamErrors}</td></tr>`,
    )
    .join('\n')
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>scache report</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 2rem; color: #222; max-width: 1040px; }
h1 { font-size: 1.4rem; }
h2 { font-size: 1.1rem; margin-top: 1.6rem; }
p.note { color: #555; margin: 0.2rem 0 0.4rem; }
table { border-collapse: collapse; }
th, td { text-align: left; padding: 4px 12px 4px 0; border-bottom: 1px solid #ddd; vertical-align: top; }
table.containers td, table.containers th { white-space: nowrap; padding-right: 10px; }
table.containers td:first-child { font: 12px ui-monospace, monospace; white-space: normal; word-break: break-all; max-width: 24em; }
th { font-weight: 600; }
table.containers td:not(:first-child), table.containers th:not(:first-child) { text-align: right; }
.swatch { display: inline-block; width: 10px; height: 10px; margin-right: 6px; }
.chart { max-width: 100%; height: auto; display: block; }
.chart .saved, .saved-label { fill: #2e7d32; }
.chart .spent, .spent-label { fill: #e65100; }
.chart .grid { stroke: #e0e0e0; }
.chart .baseline, .chart .tick { stroke: #888; }
.chart .axis { font-size: 11px; fill: #555; }
.chart .legend { font-size: 12px; }
</style>
</head>
<body>
<h1>scache report</h1>
<p>${summary.invocations} invocations${summary.from === null ? '' : ` from ${esc(summary.from)} to ${esc(summary.to ?? '')}`}, ${summary.containers.length} container${summary.containers.length === 1 ? '' : 's'}.</p>
<h2>Time saved and time on the stream</h2>
<p class="note">Per bucket: the load time the hits saved, against the time spent reading the stream.</p>
${renderChart(entries)}
<h2>Hit ratio</h2>
<p class="note">Hits / (hits + misses) per bucket, a line per container; gaps where it served no reads.</p>
${renderHitRatio(entries, axis)}
<h2>Staleness</h2>
<p class="note">The worst age of the last successful poll when a request started, per bucket and container.</p>
${renderStaleness(entries, axis)}
<h2>Per container</h2>
<table class="containers">
<tr><th>container (log stream)</th><th>invocations</th><th>hit ratio</th><th>hits</th><th>misses</th><th>bypassed</th><th>saved ms</th><th>stream ms</th><th>polls</th><th>staleness max ms</th><th>errors</th></tr>
${containers}
</table>
<h2>Summary</h2>
<table>
${rows}
</table>
</body>
</html>
`
}
