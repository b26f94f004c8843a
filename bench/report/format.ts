import type { Machine } from '../lib/machine.js'

/** A section's figures, with the machine they were measured on. */
export interface Section<T> {
  readonly machine: Machine
  readonly result: T
}

export const n = (value: number, digits = 3): string => {
  if (!Number.isFinite(value)) return String(value)
  const abs = Math.abs(value)
  const rounded =
    abs >= 100 ? Math.round(value) : Number(value.toPrecision(abs >= 1 ? digits : digits - 1))
  return rounded.toLocaleString('en-US', { maximumFractionDigits: 3 })
}
export const kib = (bytes: number) => `${n(bytes / 1024)} KiB`
export const mib = (bytes: number) => `${n(bytes / 2 ** 20)} MiB`
export const pct = (ratio: number) => `${n(ratio * 100)} %`
export const signed = (bytes: number) => `${bytes < 0 ? '−' : '+'}${mib(Math.abs(bytes))}`
export const met = (ok: boolean) => (ok ? 'met' : '**missed**')
export const table = (head: readonly string[], rows: readonly (readonly string[])[]): string =>
  [
    `| ${head.join(' | ')} |`,
    `| ${head.map((_, i) => (i === 0 ? '---' : '---:')).join(' | ')} |`,
    ...rows.map((row) => `| ${row.join(' | ')} |`),
  ].join('\n')
export const measuredOn = (m: Machine) =>
  `_Measured ${m.date.slice(0, 10)} on ${m.cpu} (${m.cores} cores, ${m.memoryGiB} GiB), Node ${m.node}, ${m.platform}._`
