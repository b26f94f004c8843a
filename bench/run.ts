import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { coldStart } from './cold-start.js'
import { fleet } from './fleet/index.js'
import { fleetLog } from './fleet/log.js'
import { fleetLogSection } from './fleet/log-report.js'
import { stalenessChart } from './fleet/svg.js'
import { goodput } from './goodput.js'
import { growth } from './growth.js'
import { hitPath } from './hit-path.js'
import { invalidationGrowth } from './invalidation.js'
import { machine } from './lib/machine.js'
import { loadScache } from './lib/scache.js'
import { sig } from './lib/stats.js'
import { memory, type RetainedShape } from './memory.js'
import { middlewareOverhead } from './middleware.js'
import { readPath } from './read-path.js'
import { headlines } from './report/headlines.js'
import { type Results, renderReport, type SectionName, sectionNames } from './report/index.js'
import { streamCost } from './stream-cost.js'

/**
 * `npm run bench [--only] [section …]`: runs each section in a fresh process (so that one
 * section's JIT and heap state cannot colour another's), merges the results into
 * bench/results.json (a section not run keeps its last results), and writes docs/BENCHMARKS.md
 * and the fleet chart (`--report`: only those, from the results already there).
 */
const root = fileURLToPath(new URL('..', import.meta.url))
const resultsPath = `${root}bench/results.json`
const MARKER = '\nbench-result:'

/**
 * Retained heap over the cache's estimate, over every shape of bench/memory-retained.ts: the
 * ratio of the totals, and the lowest and highest shape's (target: 0.8 to 1.2 each); then the
 * same over the shapes decoded from JSON against the estimate with `madeBy: 'json'`.
 */
const heapOverEstimate = (retained: Record<string, RetainedShape>): Record<string, number> => {
  const ratios = (
    name: string,
    shapes: readonly RetainedShape[],
    estimate: (v: RetainedShape) => number,
  ): Record<string, number> => {
    if (shapes.length === 0) return {}
    const each = shapes.map((v) => v.entry / estimate(v))
    const total = (pick: (v: RetainedShape) => number) =>
      shapes.reduce((sum, v) => sum + pick(v), 0)
    return {
      [name]: sig(total((v) => v.entry) / total(estimate)),
      [`${name}Lowest`]: sig(Math.min(...each)),
      [`${name}Highest`]: sig(Math.max(...each)),
    }
  }
  const shapes = Object.values(retained)
  const decoded = shapes.filter((v) => v.entryEstimateJson !== undefined)
  return {
    ...ratios('heapOverEstimate', shapes, (v) => v.entryEstimate),
    ...ratios('heapOverEstimateJson', decoded, (v) => v.entryEstimateJson ?? Number.NaN),
  }
}

const runSection = async (name: SectionName): Promise<unknown> => {
  switch (name) {
    case 'hitPath':
      return hitPath()
    case 'middleware':
      return middlewareOverhead()
    case 'streamCost':
      return streamCost()
    case 'fleet': {
      const lib = await loadScache()
      const onRun = (line: string) => process.stderr.write(`  ${line}\n`)
      return { ...(await fleet(lib, onRun)), log: await fleetLog(lib, onRun) }
    }
    case 'coldStart':
      return coldStart()
    case 'memory':
      return memory()
    case 'growth':
      return growth()
    case 'goodput':
      return goodput()
    case 'invalidation':
      return invalidationGrowth()
    case 'readPath':
      return readPath()
  }
}

const child = process.argv[2] === '--section'
if (child) {
  const name = process.argv[3] as SectionName
  const result = await runSection(name)
  process.stdout.write(`${MARKER}${JSON.stringify({ machine: machine(), result })}`)
} else {
  // `--report`: only render the docs again from bench/results.json. `--only` may precede the
  // sections' names, which are what is run either way.
  const reportOnly = process.argv.includes('--report')
  const asked = reportOnly ? [] : process.argv.slice(2).filter((arg) => arg !== '--only')
  const unknown = asked.filter((name) => !sectionNames.includes(name as SectionName))
  if (unknown.length > 0)
    throw new Error(`bench: unknown section ${unknown.join(', ')} (${sectionNames.join(', ')})`)
  const selected = reportOnly ? [] : asked.length === 0 ? sectionNames : (asked as SectionName[])
  const results: Results = existsSync(resultsPath)
    ? (JSON.parse(readFileSync(resultsPath, 'utf8')) as Results)
    : { sections: {} }
  for (const name of selected) {
    process.stderr.write(`bench: ${name}\n`)
    const started = performance.now()
    const out = execFileSync(
      process.execPath,
      // The fleet section holds 10,000 simulated containers at once; a larger young generation
      // spares it a fifth of its garbage collection. Other sections run with Node's defaults.
      [
        ...(name === 'fleet' ? ['--max-old-space-size=8192', '--max-semi-space-size=64'] : []),
        // The invalidation section weighs its heap per entry after full collections.
        ...(name === 'invalidation' ? ['--expose-gc'] : []),
        '--import',
        'tsx',
        fileURLToPath(import.meta.url),
        '--section',
        name,
      ],
      {
        cwd: root,
        encoding: 'utf8',
        maxBuffer: 64 << 20,
        stdio: ['ignore', 'pipe', 'inherit'],
        env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
      },
    )
    const payload = out.slice(out.lastIndexOf(MARKER) + MARKER.length)
    Object.assign(results.sections, { [name]: JSON.parse(payload) })
    // The figures the project's targets name, each from the section that measures it.
    results.headlines = headlines(results)
    const retained = results.sections.memory?.result.retained
    if (retained !== undefined)
      results.headlines = { ...results.headlines, ...heapOverEstimate(retained) }
    process.stderr.write(
      `bench: ${name} done in ${((performance.now() - started) / 1_000).toFixed(1)} s\n`,
    )
    writeFileSync(resultsPath, `${JSON.stringify(results, null, 2)}\n`)
  }
  mkdirSync(`${root}docs`, { recursive: true })
  const fleetLogResult = results.sections.fleet?.result.log
  writeFileSync(
    `${root}docs/BENCHMARKS.md`,
    renderReport(results) +
      (fleetLogResult === undefined ? '' : `\n${fleetLogSection(fleetLogResult)}`),
  )
  const fleetResult = results.sections.fleet?.result
  if (fleetResult !== undefined)
    writeFileSync(`${root}docs/fleet-staleness.svg`, stalenessChart(fleetResult))
  process.stderr.write('bench: wrote bench/results.json and docs/BENCHMARKS.md\n')
}
