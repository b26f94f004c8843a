/** Kinesis' answers to a reader over its share of a shard's (or the account's) limits. */
export const THROTTLES = new Set([
  'ProvisionedThroughputExceededException',
  'LimitExceededException',
])
/** Retries of a transient GetRecords failure per shard per poll, and the pause before each. */
export const MAX_TRANSIENT_RETRIES = 2
export const TRANSIENT_RETRY_DELAY_MS = 20
/** Errors whose retry may succeed at once: the server's or the connection's, not the request's. */
const TRANSIENT = new Set([
  'InternalFailure',
  'InternalFailureException',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'ECONNRESET',
  'EPIPE',
  'ECONNREFUSED',
])
export const isTransient = (error: unknown, name: string): boolean => {
  if (TRANSIENT.has(name)) return true
  const code = error as { code?: unknown; $metadata?: { httpStatusCode?: unknown } } | null
  const status = code?.$metadata?.httpStatusCode
  return (
    (typeof code?.code === 'string' && TRANSIENT.has(code.code)) ||
    (typeof status === 'number' && status >= 500 && !THROTTLES.has(name))
  )
}
