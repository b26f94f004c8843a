import { describe, expect, it } from 'vitest'
import { runSeed, type SeedReport, type SimulationMode } from '../support/simulation/run.js'

/**
 * The deterministic simulation (test/support/simulation/): seeded worlds of containers, writers,
 * a hostile writer, freezes, clock steps, resharding and Kinesis faults in virtual time, every
 * read that the cache served checked against the acknowledged writes; in log mode, the relay on
 * its event source mapping, the heartbeat, and the log table's faults besides. `npm run simulate`
 * runs any number of seeds; a failing seed here prints the command that replays it.
 */

const SEEDS = 200

const replay =
  (mode: SimulationMode) =>
  (report: SeedReport): string =>
    `seed ${report.seed} (replay: npm run simulate -- --seed ${report.seed} --mode ${mode}):\n` +
    report.violations.map((violation) => `  ${violation.kind}: ${violation.detail}`).join('\n')

const modes = ['direct', 'log'] as const

describe.each(modes)('simulation, %s mode', (mode) => {
  it(`keeps every bound in ${SEEDS} seeded worlds`, { timeout: 600_000 }, async () => {
    const failing: SeedReport[] = []
    let served = 0
    for (let seed = 1; seed <= SEEDS; seed++) {
      const report = await runSeed(seed, { mode })
      served += report.served
      if (report.violations.length > 0) failing.push(report)
    }
    expect(failing.map(replay(mode))).toEqual([])
    // The worlds are not empty: many reads were answered from the cache and checked.
    expect(served).toBeGreaterThan(SEEDS * (mode === 'direct' ? 5 : 2))
  })

  it('replays a seed exactly', async () => {
    const [first, second] = [
      await runSeed(17, { mode, trace: true }),
      await runSeed(17, { mode, trace: true }),
    ]
    expect(second.trace).toEqual(first.trace)
    expect(first.trace.length).toBeGreaterThan(50)
  })

  // The checks can fail: a container (in log mode, the relay) broken on purpose is caught.
  it.each([
    [
      'drop-invalidations',
      mode === 'direct' ? ['max-staleness', 'synced'] : ['max-staleness', 'lost'],
    ],
    ['serve-stale-as-bypass', ['healthy-bound']],
  ] as const)(
    'catches a container that is broken on purpose (%s)',
    { timeout: 300_000 },
    async (sabotage, kinds) => {
      const found = new Set<string>()
      for (let seed = 1; seed <= 60 && kinds.some((kind) => !found.has(kind)); seed++)
        for (const violation of (await runSeed(seed, { mode, sabotage })).violations)
          found.add(violation.kind)
      for (const kind of kinds) expect(found).toContain(kind)
    },
  )
})
