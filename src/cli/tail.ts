import type { KinesisClient } from '@aws-sdk/client-kinesis'
import { parseDynamoDbChange } from '../record/dynamodb.js'
import type { DecodeResult, RecordDecoder } from '../record/index.js'
import { type ReadRecord, StreamReader } from '../stream/index.js'
import {
  clientOf,
  connectionHelp,
  connectionOptions,
  EXIT,
  type Io,
  parse,
  parseCount,
  parseDuration,
  secretsOf,
  streamsOf,
  UsageError,
} from './common.js'
import { tailLog, tailLogHelp } from './tail-log.js'

export const tailHelp = `Usage: scache tail [options]

Prints the records on the stream as they arrive: scache invalidations (keys, prefixes, all),
DynamoDB change records (table, event, key), and records a reader skips, with the reason.
Each shows its shard, sequence number, arrival time, producer time (at) and the delay between.

${connectionHelp}
                      (records not signed with one of them are shown as skipped)
  --from WHEN         now (default), trim-horizon (everything retained) or an ISO time
  --json              one JSON object per record
  --count N           stop after N records
  --duration D        stop after D (e.g. 30s, 5m, 1500ms)
  --interval-ms MS    pause between polls (default 1000; Kinesis allows 5 reads/s per shard,
                      shared with every other reader)
  -h, --help          this help

Ctrl-C stops. Exit codes: 0 stopped (Ctrl-C, --count, --duration), 1 the stream could not be
read at first (missing stream, no credentials), 2 usage error.`

/** What a record said, as printed. */
export interface TailRecord {
  readonly stream: string
  readonly shardId: string
  readonly sequenceNumber: string
  readonly arrivedAt?: string
  readonly kind: 'invalidation' | 'dynamodb' | 'skipped'
  readonly keys?: readonly string[]
  readonly prefixes?: readonly string[]
  readonly tags?: readonly string[]
  readonly patterns?: readonly string[]
  readonly all?: boolean
  readonly droppedEntries?: number
  readonly futureVersion?: boolean
  readonly table?: string
  readonly event?: string
  readonly key?: Readonly<Record<string, string>>
  readonly reason?: string
  /** Producer time: the record's `at`, or the DynamoDB change's creation time. */
  readonly at?: string
  /** From `at` to the record's arrival in the stream, ms. */
  readonly delayMs?: number
}

const empty = { keys: [], prefixes: [], all: false }

/**
 * Every table's change records, as the library reads them: the tail has no key mappers, so it
 * decodes a change to an empty invalidation and shows the table and key itself.
 */
const anyTable: RecordDecoder = {
  name: 'dynamodb',
  decode(record): DecodeResult | undefined {
    const parsed = parseDynamoDbChange(record.json())
    if (parsed === undefined || !parsed.ok) return parsed
    const at = parsed.record.change.approximateCreationTime
    return {
      ok: true,
      invalidation: empty,
      droppedEntries: 0,
      futureVersion: false,
      ...(at === undefined ? {} : { at }),
    }
  },
}

const iso = (ms: number | undefined): string | undefined =>
  ms === undefined || !Number.isFinite(ms) || Math.abs(ms) > 8.64e15
    ? undefined
    : new Date(ms).toISOString()

export const describeRecord = (stream: string, record: ReadRecord): TailRecord => {
  const { decoded, arrivedAt } = record
  const where = {
    stream,
    shardId: record.shardId,
    sequenceNumber: record.sequenceNumber,
    ...(iso(arrivedAt) === undefined ? {} : { arrivedAt: iso(arrivedAt) }),
  }
  if (!decoded.ok) return { ...where, kind: 'skipped', reason: decoded.reason }
  const timing =
    decoded.at === undefined || iso(decoded.at) === undefined
      ? {}
      : {
          at: iso(decoded.at),
          ...(arrivedAt === undefined ? {} : { delayMs: arrivedAt - decoded.at }),
        }
  const change = parseDynamoDbChange(record.json())
  if (change?.ok === true) {
    const { tableName, eventName } = change.record.change
    return {
      ...where,
      kind: 'dynamodb',
      table: tableName,
      event: eventName,
      key: change.record.key,
      ...timing,
    }
  }
  const { keys, prefixes, tags, patterns, all } = decoded.invalidation
  return {
    ...where,
    kind: 'invalidation',
    keys,
    prefixes,
    ...(tags === undefined || tags.length === 0 ? {} : { tags }),
    ...(patterns === undefined || patterns.length === 0 ? {} : { patterns }),
    all,
    ...(decoded.droppedEntries > 0 ? { droppedEntries: decoded.droppedEntries } : {}),
    ...(decoded.futureVersion ? { futureVersion: true } : {}),
    ...timing,
  }
}

/**
 * One line per record. Keys, tables and reasons come from the stream, which anyone allowed to
 * PutRecord writes: they are printed as JSON strings, so no control character reaches the terminal.
 */
export const formatRecord = (record: TailRecord, showStream: boolean): string => {
  const json = JSON.stringify
  const parts = [
    record.arrivedAt ?? '-',
    ...(showStream ? [record.stream] : []),
    record.shardId,
    record.sequenceNumber,
    record.kind,
  ]
  if (record.kind === 'skipped') parts.push(`reason=${record.reason}`)
  if (record.kind === 'dynamodb') {
    parts.push(`table=${json(record.table)}`, `event=${record.event}`, `key=${json(record.key)}`)
  }
  if (record.kind === 'invalidation') {
    if ((record.keys?.length ?? 0) > 0) parts.push(`keys=${json(record.keys)}`)
    if ((record.prefixes?.length ?? 0) > 0) parts.push(`prefixes=${json(record.prefixes)}`)
    if ((record.tags?.length ?? 0) > 0) parts.push(`tags=${json(record.tags)}`)
    if ((record.patterns?.length ?? 0) > 0) parts.push(`patterns=${json(record.patterns)}`)
    if (record.all === true) parts.push('all')
    if (record.droppedEntries !== undefined) parts.push(`dropped=${record.droppedEntries}`)
    if (record.futureVersion === true) parts.push('future-version')
  }
  if (record.at !== undefined) parts.push(`at=${record.at}`)
  if (record.delayMs !== undefined) parts.push(`delay=${record.delayMs}ms`)
  return parts.join('  ')
}

/** `now`, `trim-horizon` (the epoch: Kinesis starts at the oldest record kept) or an ISO time. */
const parseFrom = (text: string, now: number): number => {
  if (text === 'now') return now
  if (text === 'trim-horizon') return 0
  const at = /\d{4}-\d{2}-\d{2}/.test(text) ? Date.parse(text) : Number.NaN
  if (Number.isNaN(at))
    throw new UsageError(`--from must be now, trim-horizon or an ISO time (got ${text})`)
  if (at > now) throw new UsageError(`--from must not be in the future (got ${text})`)
  return at
}

const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    if (signal.aborted) return resolve()
    const timer = setTimeout(done, ms)
    function done() {
      clearTimeout(timer)
      signal.removeEventListener('abort', done)
      resolve()
    }
    signal.addEventListener('abort', done, { once: true })
  })

/** Reads from `fromMs`; a restart (a backlog past 1,000 pages, a rejected position) goes to now. */
const readerFor = (stream: string, client: KinesisClient, fromMs: number, secrets: string[]) =>
  new StreamReader({
    stream,
    client,
    startAt: fromMs,
    // Records arriving from `fromMs` on, as the user asked: no margin for a cache to stay safe.
    clockSkewMs: 0,
    // A tail reads a backlog to its end: the cache's catch-up budget (restart at now) would
    // skip what the user asked to see.
    maxPagesPerShard: 1_000,
    secrets,
    decoders: [anyTable],
  })

export const tail = async (
  args: readonly string[],
  io: Io,
  signal: AbortSignal,
): Promise<number> => {
  const { values } = parse(args, {
    ...connectionOptions,
    from: { type: 'string' },
    json: { type: 'boolean' },
    count: { type: 'string' },
    duration: { type: 'string' },
    'interval-ms': { type: 'string' },
    'log-table': { type: 'string' },
    copy: { type: 'string' },
  })
  if (values.help === true) {
    io.out(`${tailHelp}\n\n${tailLogHelp}\n`)
    return EXIT.ok
  }
  // Log mode: the entries the relay appends, rather than the stream's records.
  if (values['log-table'] !== undefined) return tailLog(values, io, signal)
  const startedAt = Date.now()
  const fromMs = parseFrom(values.from ?? 'now', startedAt)
  const count = values.count === undefined ? undefined : parseCount('--count', values.count)
  const durationMs =
    values.duration === undefined ? undefined : parseDuration('--duration', values.duration)
  const intervalMs =
    values['interval-ms'] === undefined ? 1_000 : parseCount('--interval-ms', values['interval-ms'])
  const streams = streamsOf(values.stream, io.env)
  const secrets = secretsOf(values.secret, io.env)
  const client = clientOf(values, 2)
  const deadline = durationMs === undefined ? Number.POSITIVE_INFINITY : startedAt + durationMs
  const stop = new AbortController()
  const onAbort = () => stop.abort()
  signal.addEventListener('abort', onAbort, { once: true })
  // setTimeout fires at once past 2^31 - 1 ms (24.8 days): a longer --duration waits that long.
  const timer =
    durationMs === undefined
      ? undefined
      : setTimeout(() => stop.abort(), Math.min(2 ** 31 - 1, deadline - Date.now()))

  const readers = streams.map((stream) => ({
    stream,
    reader: readerFor(stream, client, fromMs, secrets),
    polled: false,
    failures: 0,
  }))
  let shown = 0
  let skipped = 0
  const show = (stream: string, record: ReadRecord): void => {
    if (count !== undefined && shown >= count) return
    const described = describeRecord(stream, record)
    shown++
    if (described.kind === 'skipped') skipped++
    io.out(
      `${values.json === true ? JSON.stringify(described) : formatRecord(described, streams.length > 1)}\n`,
    )
    if (count !== undefined && shown >= count) stop.abort()
  }

  try {
    let announced = false
    while (!stop.signal.aborted) {
      await Promise.all(
        readers.map(async (state) => {
          const result = await state.reader.poll({
            apply: () => {},
            onRecord: (record) => show(state.stream, record),
            signal: stop.signal,
          })
          if (stop.signal.aborted) return
          const [error] = result.errors
          if (result.restarted !== undefined) {
            io.err(`${state.stream}: reader restarted (${result.restarted}); reading on from now\n`)
            state.reader = readerFor(state.stream, client, Date.now(), secrets)
          }
          if (error !== undefined) {
            // A stream that never answered is a mistake to report, not a state to wait out.
            const text =
              error.name === 'ResourceNotFoundException'
                ? `stream not found (${error.message})`
                : `${error.name}: ${error.message}`
            if (!state.polled) throw new Error(`${state.stream}: ${text}`)
            state.failures++
            io.err(`${state.stream}: ${text} (retrying)\n`)
          } else {
            state.failures = 0
          }
          state.polled = true
        }),
      )
      if (!announced && !stop.signal.aborted) {
        announced = true
        io.err(
          `Tailing ${streams.join(', ')} from ${values.from ?? 'now'}${secrets.length > 0 ? ' (signed records only)' : ''}; Ctrl-C to stop\n`,
        )
      }
      // Failing polls back off, up to 30 s, so a struggling stream is not read harder.
      const failures = Math.max(...readers.map((state) => state.failures))
      await sleep(Math.min(30_000, intervalMs * 2 ** failures), stop.signal)
    }
    io.err(`Stopped after ${shown} record${shown === 1 ? '' : 's'} (${skipped} skipped)\n`)
    return EXIT.ok
  } catch (error) {
    io.err(`Cannot read: ${error instanceof Error ? error.message : String(error)}\n`)
    return EXIT.failure
  } finally {
    clearTimeout(timer)
    signal.removeEventListener('abort', onAbort)
    client.destroy()
  }
}
