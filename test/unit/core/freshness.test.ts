import { describe, expect, it } from 'vitest'
import { Freshness } from '../../../src/core/freshness.js'

const at = (start: number) => {
  let now = start
  const freshness = new Freshness({
    pollIntervalMs: 1_000,
    maxStalenessMs: 10_000,
    onStreamError: 'bypass',
    now: () => now,
    random: () => 0.5,
  })
  return { freshness, set: (ms: number) => (now = ms) }
}

describe('Freshness with a source that lags its writers (syncedTo)', () => {
  it('counts staleness from how far the source has got, not from the poll', () => {
    const { freshness, set } = at(100_000)
    set(120_000)
    // A log relayed up to 8 s before the poll started.
    freshness.polled(120_000, 'ok', 112_000)
    expect(freshness.stalenessMs(120_000)).toBe(8_000)
    expect(freshness.bypassing(false, 121_000)).toBe(false)
    // The bound is reached 10 s after the relayed point, whatever the polls since.
    expect(freshness.bypassing(false, 122_001)).toBe(true)
  })

  it('never moves back: what earlier polls or a skip knew stays known', () => {
    const { freshness, set } = at(100_000)
    set(130_000)
    freshness.skipped(130_000)
    freshness.polled(131_000, 'ok', 125_000)
    expect(freshness.stalenessMs(131_000)).toBe(1_000)
  })

  it('without syncedTo, as before: fresh as of the poll start', () => {
    const { freshness, set } = at(100_000)
    set(120_000)
    freshness.polled(119_000, 'ok')
    expect(freshness.stalenessMs(120_000)).toBe(1_000)
  })
})
