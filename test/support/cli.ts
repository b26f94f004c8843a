import { type ChildProcess, spawn } from 'node:child_process'
import { join } from 'node:path'

const root = join(import.meta.dirname, '../..')

export interface CliResult {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

export interface RunningCli {
  readonly child: ChildProcess
  /** Output so far. */
  stdout(): string
  stderr(): string
  /** Resolves once `stream`'s output so far matches `pattern`; rejects after `timeoutMs`. */
  waitFor(stream: 'stdout' | 'stderr', pattern: RegExp, timeoutMs?: number): Promise<void>
  readonly done: Promise<CliResult>
}

/**
 * The CLI as a user runs it, in a child process (`node --import tsx src/cli/main.ts …`), with
 * dummy credentials for the local Kinesis and none of the caller's SCACHE_ settings.
 */
export const startCli = (
  args: readonly string[],
  options: { env?: Record<string, string | undefined>; input?: string } = {},
): RunningCli => {
  const env: NodeJS.ProcessEnv = {
    ...Object.fromEntries(
      Object.entries(process.env).filter(([name]) => !name.startsWith('SCACHE_')),
    ),
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
    AWS_REGION: 'us-east-1',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    ...options.env,
  }
  // `undefined` in `options.env` unsets a variable.
  for (const [name, value] of Object.entries(env)) if (value === undefined) delete env[name]
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    cwd: root,
    env,
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  const output = { stdout: '', stderr: '' }
  const waiters = new Set<() => void>()
  for (const name of ['stdout', 'stderr'] as const) {
    child[name]?.setEncoding('utf8')
    child[name]?.on('data', (chunk: string) => {
      output[name] += chunk
      for (const check of waiters) check()
    })
  }
  child.stdin?.end(options.input ?? '')
  const done = new Promise<CliResult>((resolve) => {
    child.on('close', (code) => resolve({ code, ...output }))
  })
  return {
    child,
    stdout: () => output.stdout,
    stderr: () => output.stderr,
    waitFor: (name, pattern, timeoutMs = 15_000) =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(check)
          reject(new Error(`no ${pattern} on ${name} in ${timeoutMs} ms:\n${output[name]}`))
        }, timeoutMs)
        function check() {
          if (!pattern.test(output[name])) return
          clearTimeout(timer)
          waiters.delete(check)
          resolve()
        }
        waiters.add(check)
        check()
      }),
    done,
  }
}

/** Runs the CLI to its end. */
export const runCli = (
  args: readonly string[],
  options: { env?: Record<string, string | undefined>; input?: string } = {},
): Promise<CliResult> => startCli(args, options).done
