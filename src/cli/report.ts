import { createReadStream } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { createInterface } from 'node:readline'
import { EXIT, type Io, parse } from './common.js'
import { renderHtml } from './report-html.js'
import { type Entry, parseLine, summarize, summaryRows, UNKNOWN_CONTAINER } from './summary.js'

export const reportHelp = `Usage: scache report [FILE...] [--json] [--html FILE]

Summarises scache's per-invocation log lines: hit ratio, time saved by the cache against time
spent reading the stream, poll latency percentiles, clears, bypasses, stream errors, throttles.
Reads each FILE in turn, or standard input when none is given or FILE is -. Accepts the JSON
lines scache writes (plain, or in Embedded Metric Format) and the same lines in CloudWatch Logs
exports, with a timestamp, request id and level before the JSON. Other lines are counted and
skipped. Lines that name their log stream (as \`aws logs tail\` and \`sam logs\` print them) are
also broken down per container.

  --json              print the summary as JSON
  --html FILE         also write a self-contained HTML page: time saved against time spent,
                      hit ratio and staleness over time, a breakdown per container, the summary
  -h, --help          this help

Exit codes: 0 done, 1 a file could not be read or written, 2 usage error.`

/** Reads every line of the inputs in order; a file that cannot be read rejects. */
const readEntries = async (files: readonly string[], io: Io) => {
  const entries: Entry[] = []
  const lines = { total: 0, other: 0, invalid: 0 }
  for (const file of files.length === 0 ? ['-'] : files) {
    const input: NodeJS.ReadableStream = file === '-' ? io.stdin() : createReadStream(file)
    // Run with no file in a terminal, report would sit silent: say what it is waiting for.
    if (file === '-' && (input as { isTTY?: boolean }).isTTY === true)
      io.err(
        'scache report: reading log lines from the terminal; paste them and end with Ctrl-D,\n' +
          'or give files (scache report FILE...) or pipe them in (... | scache report).\n',
      )
    const reader = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY })
    // readline does not forward a stream's errors (a missing file): race them.
    const failed = new Promise<never>((_, reject) => input.once('error', reject))
    const consume = (async () => {
      for await (const text of reader) {
        const parsed = parseLine(text)
        if (parsed.kind === 'blank') continue
        lines.total++
        if (parsed.kind === 'scache') entries.push(parsed.entry)
        else lines[parsed.kind]++
      }
    })()
    try {
      await Promise.race([consume, failed])
    } catch (error) {
      reader.close()
      throw new Error(`cannot read ${file}: ${error instanceof Error ? error.message : error}`)
    }
  }
  return { entries, lines }
}

export const report = async (args: readonly string[], io: Io): Promise<number> => {
  const { values, positionals } = parse(args, {
    json: { type: 'boolean' },
    html: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  })
  if (values.help === true) {
    io.out(`${reportHelp}\n`)
    return EXIT.ok
  }
  let read: Awaited<ReturnType<typeof readEntries>>
  try {
    read = await readEntries(positionals, io)
  } catch (error) {
    io.err(`${error instanceof Error ? error.message : String(error)}\n`)
    return EXIT.failure
  }
  const summary = summarize(read.entries, read.lines)
  io.err(
    `Read ${summary.lines.total} lines: ${summary.invocations} invocations, ${summary.lines.other} other lines skipped, ${summary.lines.invalid} invalid\n`,
  )
  if (values.json === true) io.out(`${JSON.stringify(summary, null, 2)}\n`)
  else {
    const rows = summaryRows(summary)
    const width = Math.max(...rows.map(([name]) => name.length))
    for (const [name, value] of rows) io.out(`${name.padEnd(width)}  ${value}\n`)
    if (summary.containers.some((c) => c.name !== UNKNOWN_CONTAINER)) {
      const named = Math.max(...summary.containers.map((c) => c.name.length))
      io.out(`\n${'per container'.padEnd(named)}  invocations  hit ratio  saved ms  stream ms\n`)
      for (const c of summary.containers) {
        const ratio = c.hitRatio === null ? '-' : `${(c.hitRatio * 100).toFixed(1)} %`
        io.out(
          `${c.name.padEnd(named)}  ${String(c.invocations).padStart(11)}  ${ratio.padStart(9)}  ${c.savedMs.toFixed(1).padStart(8)}  ${c.streamMs.toFixed(1).padStart(9)}\n`,
        )
      }
    }
  }
  if (values.html !== undefined) {
    try {
      await writeFile(values.html, renderHtml(summary, read.entries))
    } catch (error) {
      io.err(`cannot write ${values.html}: ${error instanceof Error ? error.message : error}\n`)
      return EXIT.failure
    }
    io.err(`Wrote ${values.html}\n`)
  }
  return EXIT.ok
}
