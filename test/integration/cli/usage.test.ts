import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { runCli } from '../../support/cli.js'

const { version } = JSON.parse(
  readFileSync(new URL('../../../package.json', import.meta.url), 'utf8'),
)

/** Runs the CLI at most `size` at a time. */
const limited = (size: number) => {
  let active = 0
  const queue: (() => void)[] = []
  return async (args: readonly string[]) => {
    if (active >= size) await new Promise<void>((resolve) => queue.push(resolve))
    active++
    try {
      return await runCli(args)
    } finally {
      active--
      queue.shift()?.()
    }
  }
}

describe('scache CLI: help, version and usage errors', () => {
  // Nine CLI processes, each compiling the CLI with tsx: three at a time, so that a loaded
  // 2-core machine (the rest of the suite runs beside this file) is not asked for nine at once.
  it('prints help and the version with exit code 0; usage errors exit 2 with a message', {
    timeout: 120_000,
  }, async () => {
    const run = limited(3)
    const [help, shownVersion, none, unknown, nothing, noStream, badFrom, badOption, missingFile] =
      await Promise.all([
        run(['--help']),
        run(['--version']),
        run([]),
        run(['frobnicate']),
        run(['invalidate', '--stream', 'invalidations']),
        run(['invalidate', 'users:1']),
        run(['tail', '--stream', 'invalidations', '--from', 'yesterday']),
        run(['report', '--bogus']),
        run(['report', 'no-such-file.log']),
      ])
    expect(help).toMatchObject({ code: 0, stderr: '' })
    for (const text of ['invalidate', 'tail', 'report', 'Exit codes'])
      expect(help.stdout).toContain(text)
    expect(shownVersion).toMatchObject({ code: 0, stdout: `${version}\n` })

    const usage: [typeof none, RegExp][] = [
      [none, /no command given/],
      [unknown, /unknown command "frobnicate"/],
      [nothing, /nothing to invalidate/],
      [noStream, /no stream: pass --stream/],
      [badFrom, /--from must be now, trim-horizon or an ISO time/],
      [badOption, /Unknown option '--bogus'/],
    ]
    for (const [result, message] of usage) {
      expect(result.code).toBe(2)
      expect(result.stderr).toMatch(message)
      expect(result.stderr).toMatch(/--help for usage/)
      expect(result.stdout).toBe('')
    }
    expect(missingFile.code).toBe(1)
    expect(missingFile.stderr).toMatch(/cannot read no-such-file\.log/)
  })
})
