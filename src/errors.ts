import { createHmac, randomBytes } from 'node:crypto'

/** Set to share the key of `redactKey` between containers: a long random secret. */
export const REDACT_KEY_ENV = 'SCACHE_REDACT_KEY'

let redactionKey: Buffer | string | undefined

/**
 * The key of `redactKey`'s HMAC: `SCACHE_REDACT_KEY` when set, so that every container (and the
 * log tools) names a key alike, otherwise 32 random bytes drawn once per process. Read on first
 * use.
 */
const currentRedactionKey = (): Buffer | string => {
  if (redactionKey === undefined) {
    const configured = process.env[REDACT_KEY_ENV]
    redactionKey = configured === undefined || configured === '' ? randomBytes(32) : configured
  }
  return redactionKey
}

/**
 * A key as logs may show it when keys are redacted (`redactKeys`): a short keyed hash
 * (HMAC-SHA256, 72 bits), enough to correlate lines about one key without revealing it. Keyed,
 * because keys are usually guessable (`users:1` … `users:1000000`): an unkeyed hash is reversed
 * by hashing every candidate. By default the key is random per process, so a hash correlates
 * lines of one container only; set `SCACHE_REDACT_KEY` (a secret, like any other) to correlate
 * across containers.
 */
export const redactKey = (key: string): string =>
  `#${createHmac('sha256', currentRedactionKey()).update(key).digest('base64url').slice(0, 12)}`

/**
 * What logs and error codes call an error: its name, or for a Node system error (a plain `Error`,
 * such as a refused connection) its code, `ECONNREFUSED`, which says far more.
 */
export const errorName = (error: unknown): string => {
  if (!(error instanceof Error)) return 'Error'
  const { code } = error as { code?: unknown }
  return error.name === 'Error' && typeof code === 'string' && code !== '' ? code : error.name
}

/** A thrown value's name (see `errorName`) and message, for a log line. */
export const describeError = (error: unknown): { name: string; message: string } => ({
  name: errorName(error),
  message: error instanceof Error ? error.message : String(error),
})

/** Base class of every error scache throws, so callers can catch them all with one `instanceof`. */
export class ScacheError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'ScacheError'
  }
}

/**
 * An option passed to `scache()`, `createScache()`, `createPublisher()`, `httpCaching()` or
 * `estimateBytes()` is invalid.
 */
export class ScacheOptionsError extends ScacheError {
  /** Dotted path of the offending option, e.g. `ttl.minMs`. */
  readonly option: string

  constructor(option: string, reason: string) {
    super(`scache: option \`${option}\` ${reason}`, { cause: { package: 'scache', option } })
    this.name = 'ScacheOptionsError'
    this.option = option
  }
}

/** A key, prefix or record passed to the publisher cannot be encoded as an invalidation. */
export class InvalidKeyError extends ScacheError {
  constructor(message: string) {
    super(`scache: ${message}`)
    this.name = 'InvalidKeyError'
  }
}

/** A `getOrLoad` loader took longer than its timeout. Its value, if it comes, is not cached. */
export class LoadTimeoutError extends ScacheError {
  readonly key: string
  readonly timeoutMs: number

  constructor(key: string, timeoutMs: number) {
    super(`scache: loading ${JSON.stringify(key)} took longer than ${timeoutMs} ms`)
    this.name = 'LoadTimeoutError'
    this.key = key
    this.timeoutMs = timeoutMs
  }
}

/**
 * A load was refused without running: its circuit is open after consecutive failures of its
 * source (`circuitBreaker`). Retry after `retryInMs`, or serve something else.
 */
export class CircuitOpenError extends ScacheError {
  readonly key: string
  /** The keyspace whose circuit is open (`'*'` for the global circuit, `''` for keys without one). */
  readonly circuit: string
  readonly retryInMs: number

  /**
   * With `redact` (`redactKeys`), the key and the circuit's keyspace (a key's prefix, as telling
   * as the key) are shown, and kept in `key` and `circuit`, as `redactKey` hashes; the global
   * circuit `'*'` and the keyless `''` name nothing and stay as they are.
   */
  constructor(key: string, circuit: string, retryInMs: number, redact = false) {
    const shownKey = redact ? redactKey(key) : key
    const shownCircuit = redact && circuit !== '*' && circuit !== '' ? redactKey(circuit) : circuit
    super(
      `scache: not loading ${JSON.stringify(shownKey)}: circuit ${JSON.stringify(shownCircuit)} is open after repeated failures (next probe in ${retryInMs} ms)`,
    )
    this.name = 'CircuitOpenError'
    this.key = shownKey
    this.circuit = shownCircuit
    this.retryInMs = retryInMs
  }
}

/**
 * A load was refused without running: its keyspace started loads faster than its `loadRate`
 * allows. Retry after `retryInMs`, or serve something else. (With `staleIfErrorMs`, the key's
 * expired value is served instead when there is one.)
 */
export class LoadRateLimitedError extends ScacheError {
  readonly key: string
  /** The keyspace whose rate was exceeded (`''` for keys without one). */
  readonly keyspace: string
  /** How long until its bucket has a token again, ms. */
  readonly retryInMs: number

  /** With `redact` (`redactKeys`), the key and keyspace are shown and kept as `redactKey` hashes. */
  constructor(key: string, keyspace: string, retryInMs: number, redact = false) {
    const shownKey = redact ? redactKey(key) : key
    const shownKeyspace = redact && keyspace !== '' ? redactKey(keyspace) : keyspace
    super(
      `scache: not loading ${JSON.stringify(shownKey)}: keyspace ${JSON.stringify(shownKeyspace)} is over its load rate (a token in ${retryInMs} ms)`,
    )
    this.name = 'LoadRateLimitedError'
    this.key = shownKey
    this.keyspace = shownKeyspace
    this.retryInMs = retryInMs
  }
}

/**
 * Some invalidations were not acknowledged by Kinesis after every retry. The invalidations named
 * here may not reach other containers; the caller decides whether to retry or fail its write.
 */
export class PublishError extends ScacheError {
  readonly failedKeys: readonly string[]
  readonly failedPrefixes: readonly string[]
  readonly failedTags: readonly string[]
  readonly failedPatterns: readonly string[]
  readonly failedAll: boolean
  /** Kinesis error codes seen for the failed entries, e.g. `ProvisionedThroughputExceededException`. */
  readonly errorCodes: readonly string[]
  /** The streams that did not acknowledge them (several with replicated streams). */
  readonly failedStreams: readonly string[]
  /** The regions of those streams, where known (`streams[].region` or the stream's ARN). */
  readonly failedRegions: readonly string[]

  constructor(
    failed: {
      keys: readonly string[]
      prefixes: readonly string[]
      all: boolean
      tags?: readonly string[]
      patterns?: readonly string[]
    },
    errorCodes: readonly string[],
    options?: ErrorOptions,
    failedStreams: readonly string[] = [],
    /** Show keys and prefixes in the message as hashes (`redactKeys`); the fields keep them. */
    redact = false,
    failedRegions: readonly string[] = [],
  ) {
    const shown = (items: readonly string[]) => preview(redact ? items.map(redactKey) : items)
    const tags = failed.tags ?? []
    const patterns = failed.patterns ?? []
    const parts = [
      failed.keys.length > 0 ? `keys ${shown(failed.keys)}` : '',
      failed.prefixes.length > 0 ? `prefixes ${shown(failed.prefixes)}` : '',
      tags.length > 0 ? `tags ${shown(tags)}` : '',
      patterns.length > 0 ? `patterns ${shown(patterns)}` : '',
      failed.all ? 'invalidate-all' : '',
    ].filter(Boolean)
    super(
      `scache: invalidation not published for ${parts.join(', ')}${failedStreams.length > 0 ? ` to ${failedStreams.join(', ')}` : ''}${failedRegions.length > 0 ? ` in ${failedRegions.join(', ')}` : ''} (${errorCodes.join(', ') || 'unknown error'})`,
      options,
    )
    this.name = 'PublishError'
    this.failedKeys = failed.keys
    this.failedPrefixes = failed.prefixes
    this.failedTags = tags
    this.failedPatterns = patterns
    this.failedAll = failed.all
    this.errorCodes = errorCodes
    this.failedStreams = failedStreams
    this.failedRegions = failedRegions
    if (redact) {
      // Still there for a retry, but left out when the error is logged (JSON, util.inspect).
      for (const field of ['failedKeys', 'failedPrefixes', 'failedTags', 'failedPatterns'] as const)
        Object.defineProperty(this, field, { enumerable: false })
    }
  }
}

const preview = (items: readonly string[]): string => {
  const shown = items.slice(0, 10).map((item) => JSON.stringify(item))
  return items.length > 10 ? `${shown.join(', ')} and ${items.length - 10} more` : shown.join(', ')
}
