import type { ScacheLib } from '../lib/scache.js'
import { workload } from './index.js'
import { type FleetConfig, type FleetResult, type LogConfig, simulateFleet } from './simulate.js'

/** Fleet sizes for direct against log mode, all at a 1 s poll interval. */
export const LOG_FLEET_SIZES = [10, 30, 100, 300, 1_000, 3_000, 10_000] as const
/** The staleness of a value served (p99) a fleet size must stay under, with no read throttled. */
export const LOG_STALENESS_TARGET_S = 2.5
/** Copies of the log in the replicated setup. */
export const LOG_COPIES = 8
/**
 * From this fleet size on, 30 s are measured (after the same 30 s warm-up) instead of 120 s, to
 * keep 10,000 containers to minutes on two cores; every container is still simulated.
 */
export const LONG_FLEET = 3_000
export const SHORT_DURATION_MS = 30_000

/** The relay and table as Lambda and DynamoDB run them, for every log-mode run. */
export const logDefaults: Omit<LogConfig, 'copies'> = {
  // DynamoDB: single-digit milliseconds.
  callLatencyMs: { min: 3, max: 10 },
  // The event source mapping's defaults for Kinesis: BatchSize 100, a poll about every second.
  batchSize: 100,
  mappingPollIntervalMs: 1_000,
  invokeMs: 20,
  heartbeatIntervalMs: 5_000,
}

/**
 * Prices, us-east-1, as of the run (see docs/BENCHMARKS.md for the sources). A month is 730
 * hours, AWS' own convention.
 */
export const prices = {
  hoursPerMonth: 730,
  kinesisShardHourUsd: 0.015,
  dynamoOnDemandReadPerMillionUsd: 0.125,
  dynamoOnDemandWritePerMillionUsd: 0.625,
  dynamoProvisionedRcuHourUsd: 0.00013,
  dynamoProvisionedWcuHourUsd: 0.00065,
  lambdaRequestPerMillionUsd: 0.2,
  lambdaGbSecondUsd: 0.000_016_666_7,
  /** The relay's memory, GB (128 MB). */
  relayMemoryGb: 0.125,
} as const

export interface LogSetup {
  readonly name: string
  readonly kind: 'direct' | 'log'
  readonly copies: number
  readonly mode: FleetConfig['mode']
}

export const logSetups: readonly LogSetup[] = [
  { name: 'direct: 1 stream, 1 shard (adaptive)', kind: 'direct', copies: 0, mode: 'adaptive' },
  { name: 'log: 1 copy (adaptive)', kind: 'log', copies: 1, mode: 'adaptive' },
  {
    name: `log: ${LOG_COPIES} copies (adaptive)`,
    kind: 'log',
    copies: LOG_COPIES,
    mode: 'adaptive',
  },
]

/** What reading costs a month at the measured rates. */
export interface ReadCost {
  /** Direct: single-shard streams needed at 5 reads/s each (a lower bound), and their price. */
  readonly directStreamsNeeded: number
  readonly directUsdPerMonth: number
  /** Log mode: the containers' read units, on demand and provisioned for the peak second. */
  readonly onDemandUsdPerMonth: number
  readonly provisionedRcu: number
  readonly provisionedUsdPerMonth: number
  /** Log mode's other costs: the relay's invocations and the table's writes (on demand). */
  readonly relayUsdPerMonth: number
  readonly writesUsdPerMonth: number
}

export interface LogRun extends Omit<FleetResult, 'config'> {
  readonly containers: number
  readonly durationMs: number
  readonly cost?: ReadCost
}

export interface LogSetupSummary {
  readonly setup: LogSetup
  readonly runs: LogRun[]
  /** The largest fleet whose served staleness p99 stayed under the target with 0 reads throttled. */
  readonly largestUnderTarget: number
}

export interface FleetLogResult {
  readonly workload: typeof workload
  readonly log: typeof logDefaults
  readonly prices: typeof prices
  readonly sizes: readonly number[]
  readonly stalenessTargetS: number
  readonly setups: LogSetupSummary[]
  readonly headlines: FleetLogHeadlines
}

export interface FleetLogHeadlines {
  readonly fleetLogLargestUnder2500msP99: number
  readonly fleetLogCopiesLargestUnder2500msP99: number
  readonly fleetLogReadUsdPerMonthAt1000: number
}

const SECONDS_PER_MONTH = prices.hoursPerMonth * 3_600

const money = (usd: number): number => Math.round(usd * 100) / 100

/** The monthly read cost of a log-mode run, and what direct reading would need for the same polls. */
export const readCost = (run: Omit<FleetResult, 'config'>, containers: number): ReadCost => {
  const polls = run.pollsPerContainerPerSecond * containers
  const directStreamsNeeded = Math.max(1, Math.ceil(polls / 5))
  const log = run.log
  const readUnits = log?.readUnitsPerSecond ?? 0
  const provisionedRcu = Math.ceil(log?.peakReadUnitsPerSecond ?? 0)
  const invocations = (log?.invocationsPerSecond ?? 0) * SECONDS_PER_MONTH
  const gbSeconds = invocations * ((log?.invocationP50Ms ?? 0) / 1_000) * prices.relayMemoryGb
  return {
    directStreamsNeeded,
    directUsdPerMonth: money(
      directStreamsNeeded * prices.kinesisShardHourUsd * prices.hoursPerMonth,
    ),
    onDemandUsdPerMonth: money(
      (readUnits * SECONDS_PER_MONTH * prices.dynamoOnDemandReadPerMillionUsd) / 1e6,
    ),
    provisionedRcu,
    provisionedUsdPerMonth: money(
      provisionedRcu * prices.dynamoProvisionedRcuHourUsd * prices.hoursPerMonth,
    ),
    relayUsdPerMonth: money(
      (invocations * prices.lambdaRequestPerMillionUsd) / 1e6 +
        gbSeconds * prices.lambdaGbSecondUsd,
    ),
    writesUsdPerMonth: money(
      ((log?.writeUnitsPerSecond ?? 0) *
        SECONDS_PER_MONTH *
        prices.dynamoOnDemandWritePerMillionUsd) /
        1e6,
    ),
  }
}

const underTarget = (run: LogRun): boolean =>
  run.servedStalenessP99S < LOG_STALENESS_TARGET_S && run.throttledReads === 0

/**
 * Direct reading against log mode, 10 → 10,000 containers at a 1 s poll interval, on the fleet
 * workload. Log mode runs the relay on the stream's event source mapping against a simulated
 * DynamoDB; every container is simulated (none sampled).
 */
export const fleetLog = async (
  lib: ScacheLib,
  onRun: (line: string) => void = () => {},
  sizes: readonly number[] = LOG_FLEET_SIZES,
): Promise<FleetLogResult> => {
  const setups: LogSetupSummary[] = []
  for (const setup of logSetups) {
    const runs: LogRun[] = []
    for (const containers of sizes) {
      const durationMs = containers >= LONG_FLEET ? SHORT_DURATION_MS : workload.durationMs
      const { config: _, ...run } = await simulateFleet(lib, {
        ...workload,
        durationMs,
        containers,
        mode: setup.mode,
        pollIntervalMs: 1_000,
        shards: 1,
        streams: 1,
        ...(setup.kind === 'log' ? { log: { ...logDefaults, copies: setup.copies } } : {}),
      })
      const cost = setup.kind === 'log' ? readCost(run, containers) : undefined
      runs.push({ containers, durationMs, ...run, ...(cost === undefined ? {} : { cost }) })
      onRun(
        `${setup.name}, ${containers} containers: served p99 ${run.servedStalenessP99S} s, let-go p99 ${run.stalenessP99S} s, ${run.throttledReads} reads throttled, bypass ${run.bypassRate}${cost === undefined ? '' : `, $${cost.onDemandUsdPerMonth}/month on demand`} (${run.simulatedInS} s)`,
      )
    }
    const largest = runs.filter(underTarget).map((run) => run.containers)
    setups.push({ setup, runs, largestUnderTarget: Math.max(0, ...largest) })
  }
  const [, single, copies] = setups
  const at1000 = single?.runs.find((run) => run.containers === 1_000)?.cost
  return {
    workload,
    log: logDefaults,
    prices,
    sizes,
    stalenessTargetS: LOG_STALENESS_TARGET_S,
    setups,
    headlines: {
      fleetLogLargestUnder2500msP99: single?.largestUnderTarget ?? 0,
      fleetLogCopiesLargestUnder2500msP99: copies?.largestUnderTarget ?? 0,
      fleetLogReadUsdPerMonthAt1000: at1000?.onDemandUsdPerMonth ?? Number.NaN,
    },
  }
}
