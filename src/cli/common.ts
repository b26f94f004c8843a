import { type ParseArgsConfig, parseArgs } from 'node:util'
import type { KinesisClient } from '@aws-sdk/client-kinesis'
import { streamsFromEnv } from '../env.js'
import { PublishError } from '../errors.js'
import { createDefaultClient } from '../stream/index.js'

/** Exit codes: documented in `scache --help` and the README. */
export const EXIT = { ok: 0, failure: 1, usage: 2 } as const

/** A mistake in the command line: printed with a hint, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError'
  constructor(message: string) {
    // The library's errors say `scache: …` already; so does the CLI.
    super(message.replace(/^scache: /, ''))
  }
}

/** Where a command writes: results to `out`, progress and errors to `err`. */
export interface Io {
  readonly out: (text: string) => void
  readonly err: (text: string) => void
  readonly env: NodeJS.ProcessEnv
  readonly stdin: () => NodeJS.ReadableStream
}

type OptionSpec = NonNullable<ParseArgsConfig['options']>
type Parsed<O extends OptionSpec> = ReturnType<
  typeof parseArgs<{ args: string[]; options: O; allowPositionals: true; strict: true }>
>

/**
 * `parseArgs`, strict, with its errors (unknown option, missing value) turned into usage errors.
 */
export const parse = <O extends OptionSpec>(args: readonly string[], options: O): Parsed<O> => {
  try {
    return parseArgs({ args: [...args], options, allowPositionals: true, strict: true })
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error))
  }
}

/** Options shared by the commands that talk to Kinesis. */
export const connectionOptions = {
  stream: { type: 'string', multiple: true, short: 's' },
  endpoint: { type: 'string' },
  region: { type: 'string' },
  secret: { type: 'string', multiple: true },
  help: { type: 'boolean', short: 'h' },
} as const

export const connectionHelp = `  -s, --stream NAME   stream name or ARN; several (comma-separated or repeated) for
                      replicated streams. Default: SCACHE_STREAM_NAMES, else SCACHE_STREAM_NAME
  --endpoint URL      Kinesis endpoint, e.g. a local emulator (default: AWS_ENDPOINT_URL_KINESIS)
  --region REGION     AWS region (default: AWS_REGION, or the AWS config; us-east-1 for a
                      local --endpoint)
  --secret SECRET     shared HMAC secret (default: SCACHE_SECRET). Prefer the environment:
                      a command line is visible to other users of the machine`

/** Stream names from `--stream` (repeated or comma-separated), else the environment. */
export const streamsOf = (given: readonly string[] | undefined, env: NodeJS.ProcessEnv) => {
  const split = (value: string) =>
    value
      .split(',')
      .map((name) => name.trim())
      .filter((name) => name !== '')
  let fromEnv: string[] | undefined
  if (given === undefined || given.length === 0) {
    // The rule the middleware and the publisher follow: one variable or the other, not both.
    try {
      fromEnv = streamsFromEnv(env)
    } catch (error) {
      throw new UsageError(error instanceof Error ? error.message : String(error))
    }
  }
  const streams = given !== undefined && given.length > 0 ? given.flatMap(split) : (fromEnv ?? [])
  if (streams.length === 0)
    throw new UsageError('no stream: pass --stream NAME or set SCACHE_STREAM_NAME')
  return [...new Set(streams)]
}

/** Secrets from `--secret` (repeatable, for rotation), else `SCACHE_SECRET`. */
export const secretsOf = (
  given: readonly string[] | undefined,
  env: NodeJS.ProcessEnv,
): string[] => {
  const secrets = given !== undefined && given.length > 0 ? [...given] : [env.SCACHE_SECRET ?? '']
  return secrets.filter((secret) => secret !== '')
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]'])

/** A Kinesis client like scache's own (keep-alive, tight timeouts), with the CLI's overrides. */
export const clientOf = (
  values: { endpoint?: string | undefined; region?: string | undefined },
  maxAttempts: number,
): KinesisClient => {
  let local = false
  if (values.endpoint !== undefined) {
    try {
      local = LOOPBACK.has(new URL(values.endpoint).hostname)
    } catch {
      throw new UsageError(`--endpoint must be a URL (got ${JSON.stringify(values.endpoint)})`)
    }
  }
  // A local emulator (npm start, kinesalite) needs a region and credentials of some kind, but
  // checks neither: spare the user from inventing them.
  const region = values.region ?? (local && !process.env.AWS_REGION ? 'us-east-1' : undefined)
  const anonymous = local && !process.env.AWS_ACCESS_KEY_ID && !process.env.AWS_PROFILE
  return createDefaultClient(
    { maxAttempts, requestTimeoutMs: 10_000, connectionTimeoutMs: 3_000 },
    {
      ...(values.endpoint === undefined ? {} : { endpoint: values.endpoint }),
      ...(region === undefined ? {} : { region }),
      ...(anonymous ? { credentials: { accessKeyId: 'local', secretAccessKey: 'local' } } : {}),
    },
  )
}

/** A duration: `1500ms`, `30s`, `5m`, `1h`, or a bare number of seconds. */
export const parseDuration = (option: string, text: string): number => {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim())
  if (match === null)
    throw new UsageError(`${option} must be a duration like 30s, 5m or 1500ms (got ${text})`)
  const factor = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 }[match[2] ?? 's'] ?? 1_000
  return Number(match[1]) * factor
}

/** A positive whole number. */
export const parseCount = (option: string, text: string): number => {
  const count = Number(text)
  if (!Number.isSafeInteger(count) || count < 1)
    throw new UsageError(`${option} must be a whole number of at least 1 (got ${text})`)
  return count
}

/** An AWS error's name and message, e.g. for a stream that does not exist. */
export const describeError = (error: unknown): string => {
  if (error instanceof AggregateError) return error.errors.map(describeError).join('; ')
  // A replicated publish wraps each stream's PublishError: what Kinesis said is underneath.
  if (error instanceof PublishError && error.cause !== undefined) return describeError(error.cause)
  if (!(error instanceof Error)) return String(error)
  if (error.name === 'ResourceNotFoundException') return `stream not found: ${error.message}`
  return error.name === 'Error' ? error.message : `${error.name}: ${error.message}`
}
