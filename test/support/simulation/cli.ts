import { performance } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import { runSeed, type SeedReport, type SimulationMode, type ViolationKind } from './run.js'

/**
 * `npm run simulate -- --seeds 10000`: runs seeds 1..N (or from `--from`) of the deterministic
 * simulation, printing progress and a summary, and every failing seed with the command that
 * replays it. `--mode direct` (containers read the stream), `--mode log` (they read the log
 * table the relay fills) or `--mode both` (the default: every seed in each mode).
 * `npm run simulate -- --seed N --mode log` replays one seed and prints its world and what broke.
 * Exits 1 when any seed found a violation.
 */
const { values } = parseArgs({
  options: {
    seeds: { type: 'string', default: '1000' },
    from: { type: 'string', default: '1' },
    seed: { type: 'string' },
    mode: { type: 'string', default: 'both' },
    'mapping-retries': { type: 'string' },
    'no-hostile': { type: 'boolean', default: false },
    trace: { type: 'boolean', default: false },
    'no-recreate-stream': { type: 'boolean', default: false },
    'large-clock-steps': { type: 'boolean', default: false },
  },
})

const integer = (name: string, text: string): number => {
  const n = Number(text)
  if (!Number.isSafeInteger(n) || n < 0) {
    console.error(`--${name} must be a non-negative integer (got ${text})`)
    process.exit(2)
  }
  return n
}

const modeName = values.mode ?? 'both'
if (!['direct', 'log', 'both'].includes(modeName)) {
  console.error(`--mode must be direct, log or both (got ${modeName})`)
  process.exit(2)
}
const modes: readonly SimulationMode[] =
  modeName === 'both' ? ['direct', 'log'] : [modeName as SimulationMode]

const options = {
  hostileRecords: !values['no-hostile'],
  recreateStream: !values['no-recreate-stream'],
  largeClockSteps: values['large-clock-steps'],
  ...(values['mapping-retries'] === undefined
    ? {}
    : { mappingRetries: integer('mapping-retries', values['mapping-retries']) }),
}
const flags = `${values['no-hostile'] ? ' --no-hostile' : ''}${values['no-recreate-stream'] ? ' --no-recreate-stream' : ''}${values['large-clock-steps'] ? ' --large-clock-steps' : ''}${values['mapping-retries'] === undefined ? '' : ` --mapping-retries ${values['mapping-retries']}`}`
const replay = (seed: number, mode: SimulationMode) =>
  `npm run simulate -- --seed ${seed} --mode ${mode}${flags}`

const printFailure = (report: SeedReport, mode: SimulationMode) => {
  console.log(
    `seed ${report.seed} (${mode}): ${report.violations.length} violation(s), world ${report.config}`,
  )
  for (const violation of report.violations) console.log(`  ${violation.kind}: ${violation.detail}`)
  console.log(`  replay: ${replay(report.seed, mode)}`)
}

if (values.seed !== undefined) {
  if (modes.length > 1) {
    console.error('--seed replays one world: give --mode direct or --mode log')
    process.exit(2)
  }
  const mode = modes[0] as SimulationMode
  const report = await runSeed(integer('seed', values.seed), {
    ...options,
    mode,
    trace: values.trace,
  })
  if (values.trace) console.log(report.trace.join('\n'))
  console.log(
    `seed ${report.seed}: ${report.reads} reads, ${report.served} served from cache, ` +
      `${report.acknowledged}/${report.writes} writes acknowledged, ` +
      `${(report.virtualMs / 3_600_000).toFixed(2)} h virtual, ${report.events} steps`,
  )
  console.log(`world ${report.config}`)
  if (report.violations.length === 0) console.log('no violations')
  else printFailure(report, mode)
  process.exit(report.violations.length === 0 ? 0 : 1)
}

const count = integer('seeds', values.seeds)
const from = integer('from', values.from)
const started = performance.now()
const byKind: Partial<Record<ViolationKind, number>> = {}
const failing: { report: SeedReport; mode: SimulationMode }[] = []
let reads = 0
let served = 0
for (const mode of modes)
  for (let seed = from; seed < from + count; seed++) {
    const report = await runSeed(seed, { ...options, mode })
    reads += report.reads
    served += report.served
    if (report.violations.length > 0) {
      failing.push({ report, mode })
      printFailure(report, mode)
      for (const violation of report.violations)
        byKind[violation.kind] = (byKind[violation.kind] ?? 0) + 1
    }
    const done = seed - from + 1
    if (done % 500 === 0 || done === count)
      console.log(
        `${mode}: ${done}/${count} seeds, ${failing.length} failing, ` +
          `${((performance.now() - started) / 1_000).toFixed(1)} s`,
      )
  }
const seconds = (performance.now() - started) / 1_000
console.log(
  `\n${count} seeds (${from}..${from + count - 1}, ${modes.join(' and ')}) in ` +
    `${seconds.toFixed(1)} s: ${failing.length} failing, ${reads} reads, ${served} served from ` +
    'cache and checked',
)
const first = failing[0]
if (first !== undefined) {
  console.log(`violations by kind: ${JSON.stringify(byKind)}`)
  console.log(`replay the first: ${replay(first.report.seed, first.mode)}`)
}
process.exit(failing.length === 0 ? 0 : 1)
