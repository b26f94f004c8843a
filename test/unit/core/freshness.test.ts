import { afterEach, describe, expect, it, vi } from 'vitest'
import { perRunClock } from '../../../src/core/clock.js'
import { Freshness } from '../../../src/core/freshness.js'

/** A Freshness on a clock of the test's own, at `start` (1 s polls, a 10 s bound, 'bypass'). */
const at = (
  start: number,
  options: { pollIntervalMs?: number; onStreamError?: 'bypass' | 'serve-stale' } = {},
) => {
  let now = start
  const freshness = new Freshness({
    pollIntervalMs: options.pollIntervalMs ?? 1_000,
    maxStalenessMs: 10_000,
    onStreamError: options.onStreamError ?? 'bypass',
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

describe('Freshness when the clock steps back', () => {
  it('forgets the last sync: a failed poll does not make the cache trusted once the clock catches up', () => {
    const { freshness, set } = at(100_000, { pollIntervalMs: 0, onStreamError: 'serve-stale' })
    freshness.polled(100_000, 'ok')
    expect(freshness.bypassing(false, 101_000)).toBe(false)
    // The clock steps back 5 s: the cache's age is unknown, and a poll is due at once.
    let now = set(96_000)
    expect(freshness.bypassing(false, now)).toBe(true)
    expect(freshness.schedule(now).due).toBe(true)
    freshness.polled(now, 'failed')
    // 9 s later by the clock, 14 s since the sync in truth: past the 10 s bound, not trusted.
    now = set(105_000)
    expect(freshness.bypassing(false, now)).toBe(true)
    // Nor after another step back, into what the bound would have allowed.
    now = set(101_000)
    expect(freshness.bypassing(false, now)).toBe(true)
    // A poll that succeeds is a sync again, from its start.
    freshness.polled(101_000, 'ok')
    expect(freshness.bypassing(false, 102_000)).toBe(false)
    expect(freshness.stalenessMs(102_000)).toBe(1_000)
  })

  it('a skip after the step is a sync too (nothing cached can be stale)', () => {
    const { freshness, set } = at(100_000, { onStreamError: 'serve-stale' })
    freshness.polled(100_000, 'ok')
    const now = set(90_000)
    expect(freshness.bypassing(false, now)).toBe(true)
    freshness.skipped(now)
    expect(freshness.bypassing(false, 91_000)).toBe(false)
  })
})

/**
 * `serving`: what a hit asks (the time, or NaN while reads must skip the cache), kept in `at` for
 * a run of code with the per-run clock (+Infinity when nothing is kept). The default clock reads
 * `Date`, faked here.
 */
describe('Freshness.serving', () => {
  afterEach(() => {
    vi.useRealTimers()
  })

  const perRun = (onStreamError: 'bypass' | 'serve-stale' = 'bypass') => {
    vi.useFakeTimers({ toFake: ['Date'] })
    vi.setSystemTime(100_000)
    return new Freshness({
      pollIntervalMs: 1_000,
      maxStalenessMs: 10_000,
      onStreamError,
      now: perRunClock(),
      random: () => 0.5,
    })
  }

  it('keeps the time for the run of code that read it, and reads afresh after it', async () => {
    const freshness = perRun()
    expect(freshness.serving.read()).toBe(100_000)
    expect(freshness.serving.at).toBe(100_000)
    vi.setSystemTime(105_000)
    expect(freshness.serving.at).toBe(100_000)
    await Promise.resolve()
    expect(freshness.serving.at).toBe(Number.POSITIVE_INFINITY)
    expect(freshness.serving.read()).toBe(105_000)
  })

  it('forgets the kept time as soon as the bound changes, within the same run', () => {
    const freshness = perRun()
    expect(freshness.serving.read()).toBe(100_000)
    // A failed poll, with 'bypass': every read from now on skips the cache, this run's too.
    freshness.polled(100_000, 'failed')
    expect(freshness.serving.at).toBe(Number.POSITIVE_INFINITY)
    expect(freshness.serving.read()).toBeNaN()
    // Nor is a bypass kept: a poll that succeeds serves the very next read.
    freshness.polled(100_000, 'ok')
    expect(freshness.serving.read()).toBe(100_000)
  })

  it('answers NaN past the staleness bound', async () => {
    const freshness = perRun('serve-stale')
    vi.setSystemTime(110_001)
    await Promise.resolve()
    expect(freshness.serving.read()).toBeNaN()
    expect(freshness.serving.at).toBe(Number.POSITIVE_INFINITY)
  })

  it('keeps nothing with a clock of the caller, which may move within a run', () => {
    const { freshness, set } = at(100_000)
    expect(freshness.serving.read()).toBe(100_000)
    expect(freshness.serving.at).toBe(Number.POSITIVE_INFINITY)
    set(110_001)
    expect(freshness.serving.read()).toBeNaN()
  })

  it('bypassedServing answers NaN, always', () => {
    const freshness = perRun()
    expect(freshness.bypassedServing.read()).toBeNaN()
    expect(freshness.bypassedServing.at).toBe(Number.POSITIVE_INFINITY)
  })
})
