import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { describe, expect, it } from 'vitest'
import { flatOptions } from '../../../scripts/lib/options-docs.js'
import { pages } from './pages.js'

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
  // Snippets are real files, type-checked by `tsc` and run by the demo; the pages copy them.
  const files = new Map(
    exampleFiles('examples').map((file) => [file, readFileSync(join(root, file), 'utf8')]),
  )
  const tsBlocks = (text: string): string[] =>
    [...text.matchAll(/```ts\n([\s\S]*?)```/g)].map((match) => match[1] ?? '')

  it('shows only TypeScript that is an example file, verbatim, on every page, and links its file', () => {
    expect(tsBlocks(readme).length).toBeGreaterThanOrEqual(3)
    for (const page of pages()) {
      const text = readFileSync(join(root, page), 'utf8')
      for (const block of tsBlocks(text)) {
        const source = [...files].find(([, file]) => file === block)
        expect(
          source,
          `${page}: block is not a copy of any file in examples/:\n${block}`,
        ).toBeDefined()
        const link = relative(dirname(page), source?.[0] ?? '')
        expect(text, `${page} shows ${source?.[0]} without linking it`).toContain(`(${link})`)
      }
    }
  })

  it('shows every snippet on some page (README, docs/, examples/)', () => {
    const shown = new Set(
      pages().flatMap((page) => tsBlocks(readFileSync(join(root, page), 'utf8'))),
    )
    for (const [file, text] of files)
      if (file.startsWith(join('examples', 'snippets')))
        expect(shown.has(text), `${file} is shown by no page`).toBe(true)
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
