/**
 * Writes the docs generated from the option definitions (src/core/options/definitions.ts): the
 * options' TSDoc in src/core/options/types.ts, the README's configuration and environment
 * tables, and docs/configuration.md. `--check` writes nothing and exits 1 when a file is out of date.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { configurationPage, optionTypesSource, readmeWithTables } from './lib/options-docs.js'

const root = join(import.meta.dirname, '..')
const files: [string, (text: string) => string][] = [
  ['src/core/options/types.ts', optionTypesSource],
  ['README.md', readmeWithTables],
  ['docs/configuration.md', configurationPage],
]
const check = process.argv.includes('--check')
let stale = 0
for (const [file, render] of files) {
  const path = join(root, file)
  const before = readFileSync(path, 'utf8')
  const after = render(before)
  if (after === before) continue
  stale++
  if (check) console.error(`${file} is out of date: run npm run docs:options`)
  else writeFileSync(path, after)
}
process.exit(check && stale > 0 ? 1 : 0)
