import type { FleetBenchResult } from './index.js'

const WIDTH = 820
const HEIGHT = 420
const PLOT = { left: 64, top: 36, right: 560, bottom: 360 }
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b']

const round = (value: number): number => Math.round(value * 10) / 10

const escapeXml = (text: string): string =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')

/**
 * p99 staleness against fleet size, one line per setup (log scales), with the target as a
 * dashed line: hand-written SVG, no chart library.
 */
export const stalenessChart = (result: FleetBenchResult): string => {
  const sizes = result.sizes
  const xMin = Math.log10(Math.min(...sizes))
  const xMax = Math.log10(Math.max(...sizes))
  const yMin = 0 // 1 s
  const yMax = 2 // 100 s
  const x = (size: number) =>
    round(PLOT.left + ((Math.log10(size) - xMin) / (xMax - xMin)) * (PLOT.right - PLOT.left))
  const y = (seconds: number) => {
    const clamped = Math.min(yMax, Math.max(yMin, Math.log10(Math.max(seconds, 1))))
    return round(PLOT.bottom - ((clamped - yMin) / (yMax - yMin)) * (PLOT.bottom - PLOT.top))
  }
  const parts: string[] = []
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" role="img" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif" font-size="12">`,
    `<title>p99 staleness of an invalidation against the number of warm containers, per setup, with the ${result.stalenessTargetS} s target</title>`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="white"/>`,
    `<text x="${PLOT.left}" y="20" font-size="14" font-weight="bold">p99 staleness of an invalidation against fleet size (simulated, virtual time)</text>`,
  )
  for (const seconds of [1, 2, 5, 10, 20, 50, 100]) {
    parts.push(
      `<line x1="${PLOT.left}" x2="${PLOT.right}" y1="${y(seconds)}" y2="${y(seconds)}" stroke="#e5e5e5"/>`,
      `<text x="${PLOT.left - 8}" y="${y(seconds) + 4}" text-anchor="end">${seconds} s</text>`,
    )
  }
  for (const size of sizes) {
    parts.push(
      `<line x1="${x(size)}" x2="${x(size)}" y1="${PLOT.top}" y2="${PLOT.bottom}" stroke="#e5e5e5"/>`,
      `<text x="${x(size)}" y="${PLOT.bottom + 16}" text-anchor="middle">${size}</text>`,
    )
  }
  parts.push(
    `<rect x="${PLOT.left}" y="${PLOT.top}" width="${PLOT.right - PLOT.left}" height="${PLOT.bottom - PLOT.top}" fill="none" stroke="#999"/>`,
    `<text x="${(PLOT.left + PLOT.right) / 2}" y="${PLOT.bottom + 36}" text-anchor="middle">warm containers (log scale)</text>`,
    `<text transform="translate(16 ${(PLOT.top + PLOT.bottom) / 2}) rotate(-90)" text-anchor="middle">p99 staleness (log scale)</text>`,
    `<line x1="${PLOT.left}" x2="${PLOT.right}" y1="${y(result.stalenessTargetS)}" y2="${y(result.stalenessTargetS)}" stroke="#000" stroke-dasharray="2 3"/>`,
    `<text x="${PLOT.right - 4}" y="${y(result.stalenessTargetS) - 5}" text-anchor="end">target ${result.stalenessTargetS} s</text>`,
  )
  // One colour per topology (shards, streams, interval); fixed dashed, adaptive solid.
  const topologies = [
    ...new Set(result.setups.map((s) => s.name.replace(/^(fixed|adaptive), /, ''))),
  ]
  result.setups.forEach((summary) => {
    const topology = summary.name.replace(/^(fixed|adaptive), /, '')
    const color = COLORS[topologies.indexOf(topology) % COLORS.length]
    const dash = summary.setup.mode === 'fixed' ? ' stroke-dasharray="6 4"' : ''
    const points = summary.runs
      .map((run, index) => `${x(sizes[index] ?? 1)},${y(run.stalenessP99S)}`)
      .join(' ')
    parts.push(
      `<polyline points="${points}" fill="none" stroke="${color}" stroke-width="2"${dash}/>`,
    )
    for (const point of points.split(' ')) {
      const [cx, cy] = point.split(',')
      parts.push(`<circle cx="${cx}" cy="${cy}" r="2.5" fill="${color}"/>`)
    }
  })
  let legendY = PLOT.top + 4
  topologies.forEach((topology, index) => {
    const color = COLORS[index % COLORS.length]
    parts.push(
      `<line x1="${PLOT.right + 20}" x2="${PLOT.right + 44}" y1="${legendY}" y2="${legendY}" stroke="${color}" stroke-width="2"/>`,
      `<text x="${PLOT.right + 50}" y="${legendY + 4}">${escapeXml(topology)}</text>`,
    )
    legendY += 20
  })
  legendY += 10
  parts.push(
    `<line x1="${PLOT.right + 20}" x2="${PLOT.right + 44}" y1="${legendY}" y2="${legendY}" stroke="#333" stroke-width="2"/>`,
    `<text x="${PLOT.right + 50}" y="${legendY + 4}">adaptive (scache's backoff)</text>`,
    `<line x1="${PLOT.right + 20}" x2="${PLOT.right + 44}" y1="${legendY + 20}" y2="${legendY + 20}" stroke="#333" stroke-width="2" stroke-dasharray="6 4"/>`,
    `<text x="${PLOT.right + 50}" y="${legendY + 24}">fixed interval</text>`,
    `<text x="${PLOT.right + 20}" y="${legendY + 52}" fill="#555">poll interval, shards per stream,</text>`,
    `<text x="${PLOT.right + 20}" y="${legendY + 68}" fill="#555">streams (each container reads one)</text>`,
    '</svg>',
  )
  return `${parts.join('\n')}\n`
}
