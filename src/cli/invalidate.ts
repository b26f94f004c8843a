import { InvalidKeyError, PublishError, ScacheOptionsError } from '../errors.js'
import { createPublisher } from '../publish/index.js'
import {
  clientOf,
  connectionHelp,
  connectionOptions,
  describeError,
  EXIT,
  type Io,
  parse,
  secretsOf,
  streamsOf,
  UsageError,
} from './common.js'

export const invalidateHelp = `Usage: scache invalidate [KEY...] [--prefix P]... [--tag T]... [--pattern P]... [--all] [options]

Publishes one invalidation to the stream (to every stream, for replicated streams) and prints
where Kinesis stored each record: stream, shard, sequence number.

  KEY...              cache keys to evict (e.g. users:42)
  -p, --prefix P      evict every key starting with P (repeatable)
  -t, --tag T         evict every entry stored with tag T (repeatable)
  --pattern P         evict every key matching P, * within one :-separated segment, e.g.
                      users:*:profile (repeatable)
  --all               evict everything
${connectionHelp}
                      (signs the records; with several secrets, the first)
  --json              print the result as JSON
  -h, --help          this help

Exit codes: 0 published, 1 not published (stream missing, Kinesis errors), 2 usage error.`

export const invalidate = async (args: readonly string[], io: Io): Promise<number> => {
  const { values, positionals } = parse(args, {
    ...connectionOptions,
    prefix: { type: 'string', multiple: true, short: 'p' },
    tag: { type: 'string', multiple: true, short: 't' },
    pattern: { type: 'string', multiple: true },
    all: { type: 'boolean' },
    json: { type: 'boolean' },
  })
  if (values.help === true) {
    io.out(`${invalidateHelp}\n`)
    return EXIT.ok
  }
  const keys = positionals
  const prefixes = values.prefix ?? []
  const tags = values.tag ?? []
  const patterns = values.pattern ?? []
  const all = values.all === true
  if (
    keys.length === 0 &&
    prefixes.length === 0 &&
    tags.length === 0 &&
    patterns.length === 0 &&
    !all
  )
    throw new UsageError('nothing to invalidate: give keys, --prefix, --tag, --pattern or --all')
  const streams = streamsOf(values.stream, io.env)
  const [secret] = secretsOf(values.secret, io.env)
  const client = clientOf(values, 2)
  let publisher: ReturnType<typeof createPublisher>
  try {
    publisher = createPublisher({
      ...(streams.length === 1 ? { streamName: streams[0] } : { streamNames: streams }),
      client,
      // A person is waiting: give up after a few seconds rather than the default's retries.
      maxAttempts: 3,
      ...(secret === undefined ? {} : { secret }),
    })
  } catch (error) {
    client.destroy()
    if (error instanceof ScacheOptionsError) throw new UsageError(error.message)
    throw error
  }
  const what = [
    keys.length > 0 ? `${keys.length} key${keys.length === 1 ? '' : 's'}` : '',
    prefixes.length > 0 ? `${prefixes.length} prefix${prefixes.length === 1 ? '' : 'es'}` : '',
    tags.length > 0 ? `${tags.length} tag${tags.length === 1 ? '' : 's'}` : '',
    patterns.length > 0 ? `${patterns.length} pattern${patterns.length === 1 ? '' : 's'}` : '',
    all ? 'invalidate-all' : '',
  ]
    .filter(Boolean)
    .join(', ')
  io.err(`Publishing ${what} to ${streams.join(', ')}${secret === undefined ? '' : ' (signed)'}\n`)
  try {
    const result = await publisher.publish({ keys, prefixes, tags, patterns, all })
    if (values.json === true) {
      io.out(
        `${JSON.stringify({ keys, prefixes, tags, patterns, all, signed: secret !== undefined, ...result })}\n`,
      )
    } else {
      const rows = [['stream', 'shard', 'sequence number']].concat(
        result.acknowledged.map((ack) => [ack.stream, ack.shardId, ack.sequenceNumber]),
      )
      const widths = [0, 1].map((column) =>
        Math.max(...rows.map((row) => (row[column] ?? '').length)),
      )
      for (const row of rows)
        io.out(
          `${row
            .map((cell, i) => cell.padEnd(widths[i] ?? 0))
            .join('  ')
            .trimEnd()}\n`,
        )
    }
    io.err(
      `Published: ${result.records} record${result.records === 1 ? '' : 's'} acknowledged` +
        `${result.retriedEntries > 0 ? ` (${result.retriedEntries} after a retry)` : ''}\n`,
    )
    return EXIT.ok
  } catch (error) {
    if (error instanceof InvalidKeyError) throw new UsageError(error.message)
    if (error instanceof PublishError) {
      io.err(`Not published: ${error.message}\n`)
      if (error.cause !== undefined) io.err(`  cause: ${describeError(error.cause)}\n`)
      return EXIT.failure
    }
    io.err(`Not published: ${describeError(error)}\n`)
    return EXIT.failure
  } finally {
    // Keep-alive sockets would hold the process open.
    client.destroy()
  }
}
