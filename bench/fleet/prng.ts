export { seededRandom } from '../../test/support/prng.js'

/** An exponentially distributed delay with the given rate per second, ms (Poisson arrivals). */
export const exponentialMs = (random: () => number, perSecond: number): number =>
  (-Math.log(1 - random()) / perSecond) * 1_000

/** Draws indices 0..n-1 with probability ∝ 1/(i+1)^s (Zipf): a few hot keys, a long tail. */
export const zipf = (n: number, s: number, random: () => number): (() => number) => {
  const cdf = new Float64Array(n)
  let total = 0
  for (let i = 0; i < n; i++) {
    total += 1 / (i + 1) ** s
    cdf[i] = total
  }
  return () => {
    const target = random() * total
    let low = 0
    let high = n - 1
    while (low < high) {
      const mid = (low + high) >>> 1
      if ((cdf[mid] ?? 0) < target) low = mid + 1
      else high = mid
    }
    return low
  }
}
