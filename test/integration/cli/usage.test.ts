import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { runCli } from '../../support/cli.js'

const { version } = JSON.parse(
  readFileSync(new URL('../../../package.json', import.meta.url), 'utf8'),
)

describe('scache CLI: help, version and usage errors', () => {
  it('prints help and the version with exit code 0; usage errors exit 2 with a message', async () => {
    const [help, shownVersion, none, unknown, nothing, noStream, badFrom, badOption, missingFile] =
      await Promise.all([
        runCli(['--help']),
        runCli(['--version']),
        runCli([]),
        runCli(['frobnicate']),
        runCli(['invalidate', '--stream', 'invalidations']),
        runCli(['invalidate', 'users:1']),
        runCli(['tail', '--stream', 'invalidations', '--from', 'yesterday']),
        runCli(['report', '--bogus']),
        runCli(['report', 'no-such-file.log']),
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
