#!/usr/bin/env node
// First: it sets up the environment before the AWS SDK loads.
import './environment.js'
import { readFileSync } from 'node:fs'
import { EXIT, type Io, UsageError } from './common.js'

const help = `Usage: scache <command> [options]

Commands:
  invalidate KEY... [--prefix P] [--all]   publish an invalidation to the stream
  tail [--from WHEN] [--json]              print the stream's records as they arrive
  tail --log-table TABLE                   print the log table's entries (log mode)
  report [FILE...] [--json] [--html FILE]  summarise scache's log lines

Run scache <command> --help for a command's options. Stream, region and secret default to
SCACHE_STREAM_NAME, AWS_REGION and SCACHE_SECRET; credentials come from the AWS environment.

Options:
  -h, --help      this help
  -v, --version   the version

Exit codes: 0 success, 1 failure (stream missing, Kinesis error, unreadable file),
2 usage error.`

const version = (): string => {
  // package.json is two levels up from both src/cli/ and dist/cli/.
  const pkg: unknown = JSON.parse(
    readFileSync(new URL('../../package.json', import.meta.url), 'utf8'),
  )
  return typeof pkg === 'object' && pkg !== null && 'version' in pkg ? String(pkg.version) : '?'
}

interface Command {
  readonly help: string
  run(args: readonly string[], io: Io, signal: AbortSignal): Promise<number>
}

/** Loaded on use: `--help` or `report` need not load the AWS SDK. */
const commands: Readonly<Record<string, () => Promise<Command>>> = {
  invalidate: async () => {
    const { invalidate, invalidateHelp } = await import('./invalidate.js')
    return { help: invalidateHelp, run: invalidate }
  },
  tail: async () => {
    const { tail, tailHelp } = await import('./tail.js')
    return { help: tailHelp, run: tail }
  },
  report: async () => {
    const { report, reportHelp } = await import('./report.js')
    return { help: reportHelp, run: report }
  },
}

const commandOf = (name: string | undefined): (() => Promise<Command>) | undefined =>
  name !== undefined && Object.hasOwn(commands, name) ? commands[name] : undefined

/** Runs one command line; returns the exit code. Never throws. */
const run = async (
  argv: readonly string[],
  io: Io,
  signal: AbortSignal = new AbortController().signal,
): Promise<number> => {
  const [command, ...args] = argv
  try {
    const load = commandOf(command)
    if (load !== undefined) return await (await load()).run(args, io, signal)
    switch (command) {
      case '-h':
      case '--help':
      case 'help': {
        const topic = commandOf(args[0])
        io.out(`${topic === undefined ? help : (await topic()).help}\n`)
        return EXIT.ok
      }
      case '-v':
      case '--version':
        io.out(`${version()}\n`)
        return EXIT.ok
      case undefined:
        throw new UsageError('no command given')
      default:
        throw new UsageError(`unknown command ${JSON.stringify(command)}`)
    }
  } catch (error) {
    if (error instanceof UsageError) {
      const hint = commandOf(command) === undefined ? '' : ` ${command}`
      io.err(`scache: ${error.message}\nRun scache${hint} --help for usage.\n`)
      return EXIT.usage
    }
    io.err(`scache: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`)
    return EXIT.failure
  }
}

const stop = new AbortController()
if (process.argv[2] === 'tail') {
  // The first Ctrl-C stops tail cleanly (it prints its summary); a second one exits. Other
  // commands keep Node's default: Ctrl-C ends them at once.
  process.on('SIGINT', () => {
    if (stop.signal.aborted) process.exit(130)
    stop.abort()
  })
  process.on('SIGTERM', () => stop.abort())
}
// Output piped into a reader that stopped (`scache tail | head`): nothing more to say.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE') throw error
  stop.abort()
  process.exit(EXIT.ok)
})
const io: Io = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  env: process.env,
  // Only touched by report: an opened stdin could hold the process.
  stdin: () => process.stdin,
}
process.exitCode = await run(process.argv.slice(2), io, stop.signal)
