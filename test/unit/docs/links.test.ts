import { existsSync } from 'node:fs'
import { dirname, join, normalize } from 'node:path'
import { describe, expect, it } from 'vitest'
import { docsPages, pages, read, root } from './pages.js'

/** A heading's anchor as GitHub makes it: lowercase, punctuation dropped, spaces to '-'. */
const slug = (heading: string): string =>
  heading
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\p{M} _-]/gu, '')
    .replace(/ /g, '-')

/** Text outside fenced code blocks and inline code, where links and headings count. */
const prose = (markdown: string): string =>
  markdown.replace(/^(```|~~~)[\s\S]*?^\1[^\n]*$/gm, '').replace(/`[^`\n]*`/g, '')

/** Every anchor of a page, with GitHub's -1, -2 … suffixes for repeated headings. */
const anchors = (markdown: string): Set<string> => {
  const seen = new Map<string, number>()
  const out = new Set<string>()
  for (const match of markdown
    .replace(/^(```|~~~)[\s\S]*?^\1[^\n]*$/gm, '')
    .matchAll(/^#{1,6}[ \t]+(.+?)[ \t#]*$/gm)) {
    const base = slug(match[1] ?? '')
    const count = seen.get(base) ?? 0
    seen.set(base, count + 1)
    out.add(count === 0 ? base : `${base}-${count}`)
  }
  return out
}

/** Relative link and image targets of a page: `[text](target)` and `![alt](target)`. */
const relativeLinks = (markdown: string): string[] =>
  [...prose(markdown).matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)]
    .map((match) => match[1] ?? '')
    .filter((target) => !/^[a-z][a-z0-9+.-]*:/i.test(target))

/** What is wrong with one page's relative links, one message each. */
const brokenLinks = (page: string, markdown: string): string[] =>
  relativeLinks(markdown).flatMap((target) => {
    const [path = '', anchor] = target.split('#', 2)
    const file = path === '' ? page : normalize(join(dirname(page), decodeURIComponent(path)))
    if (file.startsWith('..')) return [`${page}: ${target}: outside the repository`]
    if (file !== page && !existsSync(join(root, file)))
      return [`${page}: ${target}: no file ${file}`]
    if (anchor === undefined || !file.endsWith('.md')) return []
    const text = file === page ? markdown : read(file)
    return anchors(text).has(decodeURIComponent(anchor).toLowerCase())
      ? []
      : [`${page}: ${target}: no heading #${anchor} in ${file}`]
  })

describe('docs', () => {
  it('keep the README a front door of at most 25,000 bytes', () => {
    expect(Buffer.byteLength(read('README.md'))).toBeLessThanOrEqual(25_000)
  })

  it('link only to files and headings that exist', () => {
    const checked = pages()
    expect(checked.length).toBeGreaterThan(5)
    expect(checked.flatMap((page) => brokenLinks(page, read(page)))).toEqual([])
  })

  it('are all reachable from the README', () => {
    const linked = new Set(
      relativeLinks(read('README.md')).map((target) => normalize(target.split('#')[0] ?? '')),
    )
    const required = [...docsPages(), 'CONTRIBUTING.md', join('examples', 'users-api', 'README.md')]
    expect(required.filter((page) => !linked.has(page))).toEqual([])
  })
})

describe('the link checker', () => {
  it('makes anchors as GitHub does', () => {
    expect(slug('The read budget (fleet arithmetic)')).toBe('the-read-budget-fleet-arithmetic')
    expect(slug('4. Fleet simulation')).toBe('4-fleet-simulation')
    expect(slug('Cache "not found" briefly')).toBe('cache-not-found-briefly')
    expect(slug('`stream.names` and [links](x.md)')).toBe('streamnames-and-links')
    expect([...anchors('# A\n## A\n```\n# not a heading\n```\n## B!')]).toEqual(['a', 'a-1', 'b'])
  })

  it('reports a missing file, a missing heading and a link outside the repository', () => {
    const page = join('docs', 'example.md')
    const markdown = [
      '# Here',
      '[ok](#here) [ok](../README.md#configuration) ![ok](fleet-staleness.svg)',
      '[gone](nowhere.md) [gone](../README.md#no-such-heading) [gone](#nor-here)',
      '![gone](missing.svg) [out](../../etc/passwd) [web](https://example.com/x.md)',
      '`[code](nowhere.md)`',
    ].join('\n')
    expect(brokenLinks(page, markdown)).toEqual([
      'docs/example.md: nowhere.md: no file docs/nowhere.md',
      'docs/example.md: ../README.md#no-such-heading: no heading #no-such-heading in README.md',
      'docs/example.md: #nor-here: no heading #nor-here in docs/example.md',
      'docs/example.md: missing.svg: no file docs/missing.svg',
      'docs/example.md: ../../etc/passwd: outside the repository',
    ])
  })
})
