import { ScacheOptionsError } from './errors.js'

/** The environment variables scache reads, and the one rule each follows everywhere. */
export type Environment = Readonly<Record<string, string | undefined>>

/**
 * The streams named by the environment: `SCACHE_STREAM_NAMES` (comma-separated replicas) or
 * `SCACHE_STREAM_NAME`; undefined when neither is set. The middleware, the publisher and the CLI
 * all read them here, so they agree; both set at once is a mistake, and an error.
 */
export const streamsFromEnv = (env: Environment = process.env): string[] | undefined => {
  const one = nonEmpty(env.SCACHE_STREAM_NAME)
  const many = nonEmpty(env.SCACHE_STREAM_NAMES)
  if (one !== undefined && many !== undefined)
    throw new ScacheOptionsError(
      'SCACHE_STREAM_NAMES',
      'is set with SCACHE_STREAM_NAME: set one of them (NAMES for replicated streams)',
    )
  if (one !== undefined) return [one]
  if (many === undefined) return undefined
  const names = many.split(',').map((name) => name.trim())
  if (names.some((name) => name === ''))
    throw new ScacheOptionsError(
      'SCACHE_STREAM_NAMES',
      `must be stream names or ARNs separated by commas (got ${JSON.stringify(many)})`,
    )
  return names
}

/** An integer from the variable `name`, undefined when unset; anything else is an error. */
export const integerFromEnv = (
  name: string,
  env: Environment = process.env,
): number | undefined => {
  const text = nonEmpty(env[name])
  if (text === undefined) return undefined
  const value = Number(text)
  if (!/^-?\d+$/.test(text) || !Number.isSafeInteger(value))
    throw new ScacheOptionsError(name, `must be an integer (got ${JSON.stringify(text)})`)
  return value
}

/** `true` or `false` from the variable `name`, undefined when unset; anything else is an error. */
export const booleanFromEnv = (
  name: string,
  env: Environment = process.env,
): boolean | undefined => {
  const text = nonEmpty(env[name])
  if (text === undefined) return undefined
  if (text === 'true') return true
  if (text === 'false') return false
  throw new ScacheOptionsError(name, `must be true or false (got ${JSON.stringify(text)})`)
}

/** A variable's value, undefined when unset or empty (an empty variable is as good as unset). */
export const nonEmpty = (value: string | undefined): string | undefined => {
  const trimmed = value?.trim()
  return trimmed === undefined || trimmed === '' ? undefined : trimmed
}
