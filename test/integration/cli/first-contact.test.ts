import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { runCli } from '../../support/cli.js'
import { useKinesis } from '../../support/kinesis.js'

const kinesis = useKinesis()
const root = join(import.meta.dirname, '../../..')

/** The CLI in a real terminal: `script` gives it a pseudo-terminal; stdin's end is a Ctrl-D. */
const inTerminal = (args: string, input: string): Promise<{ code: number | null; out: string }> =>
  new Promise((resolve, reject) => {
    const command = `${process.execPath} --import tsx src/cli/main.ts ${args}`
    const child = spawn('script', ['-qec', command, '/dev/null'], {
      cwd: root,
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    let out = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk
    })
    // The terminal echoes what is typed: wait for the prompt before typing.
    child.stdout.on('data', () => {
      if (out.includes('reading log lines from the terminal') && child.stdin.writable)
        child.stdin.end(input)
    })
    const timer = setTimeout(() => {
      child.kill()
      reject(new Error(`no end in 20 s:\n${out}`))
    }, 20_000)
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, out })
    })
  })

describe('the CLI on first contact', () => {
  it('report with no file, in a terminal, says it is waiting for input, then reads it', async () => {
    const line = JSON.stringify({ message: 'scache', streamMs: 1, savedMs: 4, hits: 3, misses: 1 })
    const { code, out } = await inTerminal('report', `${line}\n`)
    expect(code).toBe(0)
    expect(out).toMatch(/reading log lines from the terminal; paste them and end with Ctrl-D/)
    expect(out).toMatch(/hit ratio\s+75\.0 % \(3 hits, 1 misses\)/)
  })

  it('report from a pipe stays quiet about where it reads', async () => {
    const piped = await runCli(['report'], { input: '' })
    expect(piped.code).toBe(0)
    expect(piped.stderr).not.toContain('terminal')
  })

  it('does not print the AWS SDK’s Node version warning', async () => {
    const stream = await kinesis.createStream(1)
    // Unset: the CLI itself must keep the SDK quiet, not the test's environment.
    const result = await runCli(
      ['invalidate', 'users:1', '--stream', stream, '--endpoint', kinesis.endpoint],
      { env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: undefined } },
    )
    expect(result.code).toBe(0)
    expect(result.stderr).not.toMatch(/NodeVersionSupportWarning|require node >=/)
  })
})
