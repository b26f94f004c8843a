/** The q-quantile (0 to 1) of `values`, by nearest rank; NaN when empty. */
export const quantile = (values: readonly number[], q: number): number => {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))
  return sorted[rank] ?? Number.NaN
}

export const median = (values: readonly number[]): number => quantile(values, 0.5)

/** Rounds to `digits` significant digits, keeping integers whole. */
export const sig = (value: number, digits = 3): number => {
  if (!Number.isFinite(value) || value === 0) return value
  if (Math.abs(value) >= 10 ** digits) return Math.round(value)
  return Number(value.toPrecision(digits))
}

/** Sink for benchmark results, so that the optimiser cannot drop the work that made them. */
export const blackhole = { value: 0 as unknown }
