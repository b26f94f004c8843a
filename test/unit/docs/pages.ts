import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

/** The repository's root, and the Markdown pages whose links and snippets the tests check. */
export const root = join(import.meta.dirname, '../../..')

const readmesUnder = (dir: string): string[] =>
  readdirSync(join(root, dir), { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? readmesUnder(join(dir, entry.name))
      : entry.name === 'README.md'
        ? [join(dir, entry.name)]
        : [],
  )

/** docs/*.md, the pages the README must link to. */
export const docsPages = (): string[] =>
  readdirSync(join(root, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .map((name) => join('docs', name))

/** Every page checked: README.md, CONTRIBUTING.md, docs/*.md and examples' READMEs. */
export const pages = (): string[] => [
  'README.md',
  'CONTRIBUTING.md',
  ...docsPages(),
  ...readmesUnder('examples'),
]

export const read = (path: string): string => readFileSync(join(root, path), 'utf8')
