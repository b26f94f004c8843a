import { describe, expect, it } from 'vitest'
import { MAX_SERIES, OTHERS, renderHtml, seriesOf } from '../../../src/cli/report-html.js'
import { type Entry, parseLine, summarize } from '../../../src/cli/summary.js'

const STREAMS = [
  '2026/12/01/[$LATEST]1f2e3d4c5b6a79880123456789abcdef',
  '2026/12/01/[$LATEST]a0b1c2d3e4f5061728394a5b6c7d8e9f',
  '2026/12/01/[$LATEST]77aa88bb99cc00dd11ee22ff33445566',
]
const T0 = Date.parse('2026-12-01T19:40:00.000Z')

const entry = (text: string): Entry => {
  const parsed = parseLine(text)
  if (parsed.kind !== 'scache') throw new Error(`not a scache line: ${parsed.kind}`)
  return parsed.entry
}

/** A line as `aws logs tail` prints it: time, log stream, the JSON scache wrote. */
const tailed = (at: number, stream: string, fields: Record<string, unknown>) =>
  `${new Date(at).toISOString()} ${stream} ${JSON.stringify({ message: 'scache', streamMs: 1, savedMs: 2, ...fields })}`

/** Container i serves one request every 10 s for 20 minutes, hit or miss by a rule; the third idles 5 minutes. */
const fleet = (): Entry[] => {
  const entries: Entry[] = []
  for (let t = 0; t < 1_200_000; t += 10_000)
    STREAMS.forEach((stream, i) => {
      if (i === 2 && t >= 300_000 && t < 600_000) return
      const hit = (t / 10_000 + i) % 4 !== 0
      entries.push(
        entry(
          tailed(T0 + t + i * 1_000, stream, {
            hits: hit ? 1 : 0,
            misses: hit ? 0 : 1,
            stalenessMs: i === 1 && t === 600_000 ? 9_000 : 100 + i * 10,
          }),
        ),
      )
    })
  return entries
}

/** One chart of the page by its class, with its axis ranges and series. */
const chart = (page: string, name: string) => {
  const start = page.indexOf(`<svg class="chart ${name}"`)
  expect(start, name).toBeGreaterThanOrEqual(0)
  const svg = page.slice(start, page.indexOf('</svg>', start))
  const attr = (key: string) => Number(new RegExp(`${key}="(-?[\\d.]+)"`).exec(svg)?.[1])
  return {
    svg,
    x: { min: attr('data-x-min'), max: attr('data-x-max') },
    y: { min: attr('data-y-min'), max: attr('data-y-max') },
    series: [
      ...svg.matchAll(/<g class="series" data-container="([^"]*)"[^>]*><path d="([^"]*)"/g),
    ].map(([, name, path]) => ({ name, path: path ?? '' })),
    ticks: [...svg.matchAll(/class="axis tick-label" x="([\d.]+)"[^>]*>([^<]*)</g)].map(
      ([, x, label]) => ({ x: Number(x), label }),
    ),
  }
}

describe('report --html: time axis, hit ratio and staleness per container', () => {
  it('reads the container from the log stream in `aws logs tail`, `sam logs` and JSON exports', () => {
    const [stream] = STREAMS as [string]
    const json = JSON.stringify({ message: 'scache', streamMs: 1, savedMs: 2, hits: 1, misses: 0 })
    expect(entry(tailed(T0, stream, { hits: 1, misses: 0 })).container).toBe(stream)
    // sam logs: the stream first, then the time.
    expect(entry(`${stream} 2026-12-01T19:40:00.000000 ${json}`)).toMatchObject({
      container: stream,
      time: T0,
    })
    const insights = JSON.stringify({ '@logStream': stream, message: json })
    expect(entry(insights).container).toBe(stream)
    expect(entry(json).container).toBeUndefined()
  })

  it('fits the axes to the data and draws one series per container', () => {
    const entries = fleet()
    const summary = summarize(entries, { total: entries.length, other: 0, invalid: 0 })
    const page = renderHtml(summary, entries)
    const first = Math.min(...entries.map((e) => e.time as number))
    const last = Math.max(...entries.map((e) => e.time as number))
    for (const name of ['time', 'hit-ratio', 'staleness']) {
      const { x, ticks } = chart(page, name)
      // From the bucket holding the first line to the end of the one holding the last: no
      // empty stretch before or after (a 20-minute run is drawn in 30 s buckets).
      expect(x.min).toBeLessThanOrEqual(first)
      expect(x.max).toBeGreaterThan(last)
      expect(first - x.min).toBeLessThan(30_000)
      expect(x.max - last).toBeLessThanOrEqual(30_000)
      // Clock ticks on round minutes, in order, inside the plot.
      expect(ticks.length).toBeGreaterThanOrEqual(3)
      expect(ticks.map((t) => t.label)).toContain('19:50')
      for (const [i, tick] of ticks.entries()) {
        expect(tick.label).toMatch(/^\d{2}:\d{2}$/)
        if (i > 0) expect(tick.x).toBeGreaterThan(ticks[i - 1]?.x ?? 0)
      }
    }

    const ratio = chart(page, 'hit-ratio')
    expect(ratio.series.map((s) => s.name)).toEqual(summary.containers.map((c) => c.name))
    expect(ratio.series).toHaveLength(3)
    const lowest = Math.min(
      ...seriesOf(entries).flatMap((s) => s.hitRatio.filter((r): r is number => r !== null)),
    )
    expect(ratio.y.max).toBe(1)
    expect(ratio.y.min).toBeLessThanOrEqual(lowest)
    expect(ratio.y.min).toBeGreaterThan(lowest - 0.1)
    // The idle container's line has a gap: two segments.
    const idle = ratio.series.find((s) => s.name === STREAMS[2])
    expect(idle?.path.match(/M/g)).toHaveLength(2)

    const staleness = chart(page, 'staleness')
    expect(staleness.series).toHaveLength(3)
    expect(staleness.y.min).toBe(0)
    expect(staleness.y.max).toBeGreaterThanOrEqual(9_000)
    expect(staleness.y.max).toBeLessThanOrEqual(2.5 * 9_000)

    // The table: a row per container with its own counts.
    const rows = [
      ...page.matchAll(/<tr><td><span class="swatch"[^>]*><\/span>([^<]*)<\/td><td>(\d+)<\/td>/g),
    ]
    expect(rows.map(([, name, n]) => [name, Number(n)])).toEqual(
      summary.containers.map((c) => [c.name, c.invocations]),
    )
    expect(summary.containers.find((c) => c.name === STREAMS[1])?.maxStalenessMs).toBe(9_000)
  })

  it('many containers: the busiest get their own series, the rest one `others` series', () => {
    const entries: Entry[] = []
    for (let c = 0; c < MAX_SERIES + 5; c++)
      for (let n = 0; n <= c; n++)
        entries.push(
          entry(
            tailed(T0 + n * 1_000, `2026/12/01/[$LATEST]${c.toString(16).padStart(32, '0')}`, {
              hits: 1,
              misses: 0,
            }),
          ),
        )
    const page = renderHtml(
      summarize(entries, { total: entries.length, other: 0, invalid: 0 }),
      entries,
    )
    const { series } = chart(page, 'hit-ratio')
    expect(series).toHaveLength(MAX_SERIES)
    expect(series.at(-1)?.name).toBe(OTHERS)
    // Busiest first: container MAX_SERIES + 4 wrote the most lines.
    expect(series[0]?.name).toMatch(new RegExp(`${(MAX_SERIES + 4).toString(16)}$`))
  })

  it('without timestamps: the x axis is the invocation order, one `unknown` container', () => {
    const entries = Array.from({ length: 25 }, (_, i) =>
      entry(JSON.stringify({ message: 'scache', streamMs: 1, savedMs: 2, hits: i % 2, misses: 1 })),
    )
    const page = renderHtml(summarize(entries, { total: 25, other: 0, invalid: 0 }), entries)
    const ratio = chart(page, 'hit-ratio')
    // Buckets of 3 lines (about 3 lines per bucket): the axis ends with the ninth, at 27.
    expect(ratio.x).toEqual({ min: 0, max: 27 })
    expect(ratio.series[0]?.path.match(/L/g)).toHaveLength(8)
    expect(ratio.series.map((s) => s.name)).toEqual(['unknown'])
    expect(page).toContain('invocations, in log order (no timestamps)')
  })
})
