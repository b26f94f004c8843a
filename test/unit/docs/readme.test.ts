import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { flatOptions } from '../../../scripts/lib/options-docs.js'

const root = join(import.meta.dirname, '../../..')
const readme = readFileSync(join(root, 'README.md'), 'utf8')

const exampleFiles = (dir: string): string[] =>
  readdirSync(join(root, dir), { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? exampleFiles(join(dir, entry.name))
      : entry.name.endsWith('.ts')
        ? [join(dir, entry.name)]
        : [],
  )

describe('README', () => {
  // Snippets are real files, type-checked by `tsc` and run by the demo; the README copies them.
  it('shows only TypeScript that is an example file, verbatim', () => {
    const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((match) => match[1])
    expect(blocks.length).toBeGreaterThanOrEqual(3)
    const files = new Map(
      exampleFiles('examples').map((file) => [file, readFileSync(join(root, file), 'utf8')]),
    )
    for (const block of blocks) {
      const source = [...files].find(([, text]) => text === block)
      expect(source, `README block is not a copy of any file in examples/:\n${block}`).toBeDefined()
      expect(readme).toContain(`(${source?.[0]})`)
    }
  })

  it('documents every option the middleware accepts, and the commands of the quick start', () => {
    const names = flatOptions().map(([path]) => path)
    expect(names.length).toBeGreaterThan(10)
    for (const name of names)
      expect(readme, `option ${name}`).toMatch(
        new RegExp(`\\| \`${name.replace('.', '\\.')}\` *\\|`),
      )
    for (const command of ['npm ci', 'npm run demo', 'npm test']) expect(readme).toContain(command)
  })
})
