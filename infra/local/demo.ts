/**
 * `npm run demo`: the example stack of template.yaml, started in this process (infra/local), and
 * a scripted scenario over HTTP against its users API, once for each way writes reach the other
 * containers: the API publishing invalidations, and the table streaming its own changes.
 * Reads fill each container's cache, a write and a delete go through one container, the others
 * are polled until they serve the change, then a burst of concurrent reads. Prints each
 * invocation's log line with its container and a summary; exits 1 if a container served a value
 * older than the staleness bound.
 */
import { parseArgs } from 'node:util'
import type { APIGatewayProxyEventV2 } from 'aws-lambda'
import type { InvocationLog } from '../../src/index.js'
import type { FunctionLog } from './lambda.js'
import {
  CONTAINER_HEADER,
  type InvalidationMode,
  type LocalStack,
  type ReadMode,
  startLocalStack,
} from './stack.js'

const CONTAINERS = 3
const USERS = ['1', '2', '3']
const BURST = 300

interface Run {
  readonly invalidation: InvalidationMode
  readonly lines: Map<string, InvocationLog[]>
  readonly propagation: { change: string; ms: number }[]
  stale: boolean
}

const print = (text: string) => process.stdout.write(`${text}\n`)

/** The request an invocation served: `GET /users/1`, from its HTTP API event. */
const requestOf = (event: unknown): string => {
  const { requestContext, rawPath } = (event ?? {}) as Partial<APIGatewayProxyEventV2>
  return requestContext === undefined ? '' : `${requestContext.http.method} ${rawPath ?? ''}`
}

const LEGEND = `Each line below is one invocation: the container that served it, the request, what scache
did, and its numbers.
  hit 1 / miss 1   the user came from this container's cache / from the table (then cached)
  polled           this invocation read the invalidation stream (at most once per poll interval)
  poll skipped     nothing was cached yet, so there was nothing to invalidate and no read
  records, evicted invalidation records read from the stream; cached entries they removed
  stream ms        time this invocation spent reading the stream (the first poll of a container
                   also finds the stream's shards and positions, so it is the slowest)
  saved ms         time the hit saved: what loading that user from the table took when it was cached`

let legendShown = false

/** One invocation's log line, short: its container, its request and what scache did. */
const describe = (log: FunctionLog, line: InvocationLog) => {
  const what = [
    line.hits > 0 ? `hit ${line.hits}` : '',
    line.misses > 0 ? `miss ${line.misses}` : '',
    line.evicted > 0 ? `evicted ${line.evicted}` : '',
    line.records > 0 ? `records ${line.records}` : '',
    line.pollSkipped ? 'poll skipped (cache empty)' : line.polled ? 'polled' : '',
    line.cleared === undefined ? '' : `cleared (${line.cleared})`,
    line.streamError === undefined ? '' : `stream error ${line.streamError}`,
  ].filter(Boolean)
  return (
    `    ${log.container.padEnd(22)} ${requestOf(log.event).padEnd(16)} ${what.join(', ').padEnd(40)} ` +
    `stream ${line.streamMs.toFixed(1).padStart(5)} ms  saved ${line.savedMs.toFixed(1).padStart(5)} ms`
  )
}

const scenario = async (invalidation: InvalidationMode, readMode: ReadMode): Promise<Run> => {
  const run: Run = { invalidation, lines: new Map(), propagation: [], stale: false }
  // What to print: every line, only those that read the stream (while waiting), or none (burst).
  let show: 'all' | 'polls' | 'none' = 'all'
  const stack: LocalStack = await startLocalStack({
    invalidation,
    readMode,
    containers: CONTAINERS,
    seed: USERS.map((id) => ({ id, name: `user ${id}` })),
    onLog: (log) => {
      if (log.json?.message !== 'scache') return print(`    ${log.container}: ${log.line}`)
      const line = log.json as unknown as InvocationLog
      run.lines.set(log.container, [...(run.lines.get(log.container) ?? []), line])
      if (show === 'all' || (show === 'polls' && (line.polled || line.evicted > 0)))
        print(describe(log, line))
    },
  })
  const pollIntervalMs = Number(stack.environment.POLL_INTERVAL_MS)
  // A change is read by the first request after the poll interval; that poll takes < 1 s.
  const boundMs = pollIntervalMs + 1_000
  const request = async (method: string, id: string, container?: number, body?: unknown) => {
    const response = await fetch(`${stack.url}/users/${id}`, {
      method,
      headers: {
        'content-type': 'application/json',
        ...(container === undefined ? {} : { [CONTAINER_HEADER]: String(container) }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    })
    const text = await response.text()
    return { status: response.status, body: text }
  }

  print(`\n=== Invalidation: ${invalidation} ===`)
  print(
    invalidation === 'publisher'
      ? 'The API publishes an invalidation to the stream after each write.'
      : "The table streams its own changes into the stream; the API publishes nothing, and\nscache's DynamoDB decoder turns each change into an invalidation.",
  )
  print(`HTTP API ${stack.url}/users/{id}, ${CONTAINERS} warm containers, stream ${stack.stream}\n`)
  if (!legendShown) print(`${LEGEND}\n`)
  legendShown = true

  print('1. Reads: each container reads each user three times; the first read loads from the table')
  for (let round = 0; round < 3; round++) {
    for (let container = 1; container <= CONTAINERS; container++) {
      for (const id of USERS) await request('GET', id, container)
    }
  }

  const change = async (
    label: string,
    method: 'PUT' | 'DELETE',
    id: string,
    seen: (response: { status: number; body: string }) => boolean,
  ) => {
    print(`\n${label} (reads that hit are not shown)`)
    await request(method, id, 1, method === 'PUT' ? { name: 'Ada Lovelace' } : undefined)
    const acknowledged = Date.now()
    show = 'polls'
    const pending = new Set(Array.from({ length: CONTAINERS - 1 }, (_, i) => i + 2))
    let ms = 0
    while (pending.size > 0 && !run.stale) {
      for (const container of [...pending]) {
        if (seen(await request('GET', id, container))) {
          pending.delete(container)
          ms = Date.now() - acknowledged
        } else if (Date.now() - acknowledged > boundMs) run.stale = true
      }
      if (pending.size > 0) await new Promise((resolve) => setTimeout(resolve, 100))
    }
    show = 'all'
    run.propagation.push({ change: `${method} /users/${id}`, ms })
    print(`    → every container serves the change ${ms} ms after the write was acknowledged`)
  }
  await change(
    '2. Write: PUT /users/1 through container 1; the others read until they serve the new name',
    'PUT',
    '1',
    (response) => response.body.includes('Ada Lovelace'),
  )
  await change(
    '3. Delete: DELETE /users/2 through container 1; the others read until they answer 404',
    'DELETE',
    '2',
    (response) => response.status === 404,
  )

  print(`\n4. Burst: ${BURST} concurrent reads, spread over the containers (log lines not shown)`)
  show = 'none'
  const started = Date.now()
  const statuses = await Promise.all(
    Array.from({ length: BURST }, (_, i) => request('GET', USERS[i % USERS.length] as string)),
  )
  print(
    `    ${statuses.filter((r) => r.status === 200).length} × 200, ${statuses.filter((r) => r.status === 404).length} × 404 in ${Date.now() - started} ms`,
  )
  await stack.close()
  return run
}

const summarize = (runs: readonly Run[]) => {
  print('\n=== Summary ===')
  const header = [
    'invalidation',
    'requests',
    'hit ratio',
    'stream ms',
    'saved ms',
    'evicted',
    'records',
    'changes',
    'every container served the change after',
  ]
  const rows: string[][] = [header]
  for (const run of runs) {
    const lines = [...run.lines.values()].flat()
    const sum = (field: 'hits' | 'misses' | 'streamMs' | 'savedMs' | 'evicted' | 'records') =>
      lines.reduce((total, line) => total + line[field], 0)
    const reads = sum('hits') + sum('misses')
    rows.push([
      run.invalidation,
      String(lines.length),
      reads === 0 ? '-' : `${((100 * sum('hits')) / reads).toFixed(1)}%`,
      String(Math.round(sum('streamMs'))),
      String(Math.round(sum('savedMs'))),
      String(sum('evicted')),
      String(sum('records')),
      String(run.propagation.length),
      run.propagation.map((p) => `${p.ms} ms`).join(', '),
    ])
  }
  // Text left-aligned, numbers right-aligned; no index column.
  const widths = header.map((_, i) => Math.max(...rows.map((row) => (row[i] ?? '').length)))
  for (const row of rows)
    print(
      row
        .map((cell, i) =>
          i === 0 || i === row.length - 1
            ? cell.padEnd(widths[i] ?? 0)
            : cell.padStart(widths[i] ?? 0),
        )
        .join('  ')
        .trimEnd(),
    )
  print(`
requests   invocations of the users function in the scenario: reads, writes, the reads
           waiting for each change, and the burst
hit ratio  reads answered from a container's cache, of all reads
stream ms  time all containers spent reading the invalidation stream
saved ms   time the hits saved: each cached user's table read, counted again at every hit
evicted    cached entries removed by invalidations, in all containers
records    invalidation records read from the stream (each container reads every record)
changes    writes and deletes, and how long after each one was acknowledged every container
           served the new value
`)
}

const main = async (): Promise<number> => {
  const { values } = parseArgs({
    options: { invalidation: { type: 'string' }, 'read-mode': { type: 'string' } },
  })
  // log: containers read the log table the relay fills from the stream (docs/log-table.md).
  const readMode = values['read-mode'] ?? 'direct'
  if (readMode !== 'direct' && readMode !== 'log') {
    console.error('--read-mode must be direct or log')
    return 2
  }
  const modes: InvalidationMode[] =
    values.invalidation === undefined
      ? ['publisher', 'table-stream']
      : [values.invalidation as InvalidationMode]
  for (const mode of modes) {
    if (mode !== 'publisher' && mode !== 'table-stream') {
      console.error('--invalidation must be publisher or table-stream')
      return 2
    }
  }
  const runs: Run[] = []
  for (const mode of modes) runs.push(await scenario(mode, readMode))
  summarize(runs)
  const stale = runs.filter((run) => run.stale)
  if (stale.length > 0) {
    console.error(
      `FAILED: a container served a value older than the staleness bound (${stale.map((r) => r.invalidation).join(', ')})`,
    )
    return 1
  }
  print('Every change reached every container within the bound (poll interval + 1 s).')
  return 0
}

process.exitCode = await main()
