import type { ScacheLib } from '../lib/scache.js'
import type { FleetLogResult } from './log.js'
import { type FleetConfig, type FleetResult, type PollMode, simulateFleet } from './simulate.js'

export const FLEET_SIZES = [5, 10, 20, 50, 100, 200, 500, 1_000] as const
/** The staleness a configuration must stay under (p99) for a fleet size to count as served. */
export const STALENESS_TARGET_S = 5

/** The same workload for every run; only the fleet and how it reads change. */
export const workload: Omit<
  FleetConfig,
  'containers' | 'mode' | 'pollIntervalMs' | 'shards' | 'streams'
> = {
  seed: 20_251_121,
  requestsPerSecond: 2,
  writesPerSecond: 5,
  keys: 1_000,
  ttlMs: { minMs: 30_000, maxMs: 60_000 },
  maxStalenessMs: 10_000,
  loadMs: 10,
  callLatencyMs: { min: 5, max: 20 },
  visibilityDelayMs: 250,
  warmupMs: 30_000,
  durationMs: 120_000,
}

export interface FleetSetup {
  readonly name: string
  readonly mode: PollMode
  readonly pollIntervalMs: number
  readonly shards: number
  readonly streams: number
}

const setup = (mode: PollMode, pollIntervalMs: number, shards: number, streams: number) => ({
  name: `${mode}, ${pollIntervalMs / 1_000} s, ${shards} shard${shards > 1 ? 's' : ''}, ${streams} stream${streams > 1 ? 's' : ''}`,
  mode,
  pollIntervalMs,
  shards,
  streams,
})

export const setups: readonly FleetSetup[] = [
  setup('fixed', 1_000, 1, 1),
  setup('adaptive', 1_000, 1, 1),
  setup('fixed', 1_000, 4, 1),
  setup('adaptive', 1_000, 4, 1),
  setup('fixed', 1_000, 1, 4),
  setup('adaptive', 1_000, 1, 4),
  setup('fixed', 2_000, 1, 16),
  setup('adaptive', 2_000, 1, 16),
]

export interface FleetSummary {
  readonly name: string
  readonly setup: FleetSetup
  readonly runs: Omit<FleetResult, 'config'>[]
  /** The largest fleet size simulated whose p99 staleness stayed under the target (0: none). */
  readonly largestUnderTarget: number
}

export interface FleetBenchResult {
  readonly workload: typeof workload
  readonly sizes: readonly number[]
  readonly stalenessTargetS: number
  readonly setups: FleetSummary[]
  /** Direct reading against log mode, 10 → 10,000 containers (bench/fleet/log.ts). */
  readonly log?: FleetLogResult
}

export const fleet = async (
  lib: ScacheLib,
  onRun: (line: string) => void = () => {},
): Promise<FleetBenchResult> => {
  const summaries: FleetSummary[] = []
  for (const s of setups) {
    const runs: Omit<FleetResult, 'config'>[] = []
    for (const containers of FLEET_SIZES) {
      const { config: _, ...run } = await simulateFleet(lib, { ...workload, ...s, containers })
      runs.push(run)
      onRun(
        `${s.name}, ${containers} containers: p99 ${run.stalenessP99S} s, ${run.readTpsPerShard} reads/s/shard, ${run.throttles} throttles (${run.simulatedInS} s)`,
      )
    }
    const under = runs
      .map((run, index) => ({ run, size: FLEET_SIZES[index] ?? 0 }))
      .filter(({ run }) => run.stalenessP99S < STALENESS_TARGET_S)
    summaries.push({
      name: s.name,
      setup: s,
      runs,
      largestUnderTarget: Math.max(0, ...under.map(({ size }) => size)),
    })
  }
  return { workload, sizes: FLEET_SIZES, stalenessTargetS: STALENESS_TARGET_S, setups: summaries }
}
