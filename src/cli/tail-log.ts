import type { DynamoDBClient } from '@aws-sdk/client-dynamodb'
import { dynamoDb } from '../log/client.js'
import {
  copyKey,
  fromItem,
  headQuery,
  isHeartbeat,
  type LogEntry,
  pollQuery,
} from '../log/entry.js'
import { EXIT, type Io, parseCount, parseDuration, UsageError } from './common.js'

export const tailLogHelp = `Usage: scache tail --log-table TABLE [options]

Log mode: prints the entries the relay appends to the log table, as they come: their seq, the
shard they came from, when they were appended and how far behind the stream (lag), and what they
evict (keys, prefixes, all) or that they are heartbeats. A gap in the seqs (entries expired) is
reported on stderr.

  --log-table TABLE   the log table (default: SCACHE_LOG_TABLE)
  --copy N            the copy to read (default 0)
  --endpoint URL      another DynamoDB endpoint (a local one: npm start's dynalite)
  --region REGION     the table's region
  --from WHEN         now (default: from the newest entry on) or trim-horizon (every entry kept)
  --json              one JSON object per entry
  --count N           stop after N entries
  --duration D        stop after D (e.g. 30s, 5m, 1500ms)
  --interval-ms MS    pause between queries (default 1000)`

export interface TailLogValues {
  readonly 'log-table'?: string | undefined
  readonly copy?: string | undefined
  readonly endpoint?: string | undefined
  readonly region?: string | undefined
  readonly from?: string | undefined
  readonly json?: boolean | undefined
  readonly count?: string | undefined
  readonly duration?: string | undefined
  readonly 'interval-ms'?: string | undefined
}

/** One entry as printed: the entry, its copy, and the relay's lag behind the stream. */
export const describeEntry = (copy: number, entry: LogEntry) => ({
  copy: copyKey(copy),
  ...entry,
  kind: entry.all ? 'all' : isHeartbeat(entry) ? 'heartbeat' : 'invalidation',
  ...(entry.upTo === undefined ? {} : { lagMs: entry.at - entry.upTo }),
})

const formatEntry = (described: ReturnType<typeof describeEntry>): string => {
  const what =
    described.kind === 'heartbeat'
      ? 'heartbeat'
      : [
          described.all ? 'all' : '',
          described.keys.length > 0 ? `keys ${described.keys.join(', ')}` : '',
          described.prefixes.length > 0 ? `prefixes ${described.prefixes.join(', ')}` : '',
        ]
          .filter((part) => part !== '')
          .join(' | ')
  const lag = described.lagMs === undefined ? '' : `  lag ${described.lagMs} ms`
  return `${described.copy} seq ${described.seq}  ${described.shard}  ${new Date(described.at).toISOString()}${lag}  ${what}`
}

const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    if (signal.aborted) return resolve()
    const timer = setTimeout(resolve, ms)
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(timer)
        resolve()
      },
      { once: true },
    )
  })

/** `scache tail --log-table`: follows one copy of the log. */
export const tailLog = async (values: TailLogValues, io: Io, signal: AbortSignal) => {
  const table = values['log-table'] ?? io.env.SCACHE_LOG_TABLE
  if (table === undefined || table === '') throw new UsageError('--log-table is required')
  const copy = values.copy === undefined ? 0 : Number(values.copy)
  if (!Number.isInteger(copy) || copy < 0 || copy > 99)
    throw new UsageError(`--copy must be from 0 to 99 (got ${values.copy})`)
  const from = values.from ?? 'now'
  if (from !== 'now' && from !== 'trim-horizon')
    throw new UsageError(`--from must be now or trim-horizon with --log-table (got ${from})`)
  const count = values.count === undefined ? undefined : parseCount('--count', values.count)
  const durationMs =
    values.duration === undefined ? undefined : parseDuration('--duration', values.duration)
  const intervalMs =
    values['interval-ms'] === undefined ? 1_000 : parseCount('--interval-ms', values['interval-ms'])
  const { DynamoDBClient, QueryCommand } = await dynamoDb()
  const local =
    values.endpoint !== undefined && /\/\/(localhost|127\.0\.0\.1)[:/]/.test(values.endpoint)
  const client: DynamoDBClient = new DynamoDBClient({
    maxAttempts: 3,
    ...(values.endpoint === undefined ? {} : { endpoint: values.endpoint }),
    ...(values.region === undefined
      ? local
        ? { region: 'us-east-1' }
        : {}
      : { region: values.region }),
    ...(local && !io.env.AWS_ACCESS_KEY_ID
      ? { credentials: { accessKeyId: 'local', secretAccessKey: 'local' } }
      : {}),
  })
  const stop = new AbortController()
  const onAbort = () => stop.abort()
  signal.addEventListener('abort', onAbort, { once: true })
  const timer = durationMs === undefined ? undefined : setTimeout(onAbort, durationMs)
  let shown = 0
  try {
    let position = 0
    if (from === 'now') {
      const { Items } = await client.send(new QueryCommand(headQuery(table, copy)))
      position = Items?.[0] === undefined ? 0 : (fromItem(Items[0])?.seq ?? 0)
    }
    io.err(`Tailing ${table} (${copyKey(copy)}) from seq ${position + 1}; Ctrl-C to stop\n`)
    while (!stop.signal.aborted) {
      let start: Record<string, never> | undefined
      do {
        const page = await client.send(new QueryCommand(pollQuery(table, copy, position, start)))
        for (const item of page.Items ?? []) {
          const entry = fromItem(item)
          if (entry === undefined || stop.signal.aborted) continue
          if (entry.seq !== position + 1 && position > 0)
            io.err(`gap: entries ${position + 1} to ${entry.seq - 1} are gone (expired)\n`)
          position = entry.seq
          const described = describeEntry(copy, entry)
          io.out(`${values.json === true ? JSON.stringify(described) : formatEntry(described)}\n`)
          if (count !== undefined && ++shown >= count) stop.abort()
        }
        start = page.LastEvaluatedKey as Record<string, never> | undefined
      } while (start !== undefined && !stop.signal.aborted)
      await sleep(intervalMs, stop.signal)
    }
    io.err(`Stopped after ${shown} entr${shown === 1 ? 'y' : 'ies'}\n`)
    return EXIT.ok
  } catch (error) {
    io.err(
      `Cannot read: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}\n`,
    )
    return EXIT.failure
  } finally {
    clearTimeout(timer)
    signal.removeEventListener('abort', onAbort)
    client.destroy()
  }
}
