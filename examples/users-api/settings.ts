/** The function's settings, from the environment the SAM template (or the local stack) sets. */
const env = (name: string): string => {
  const value = process.env[name]
  if (value === undefined || value === '') throw new Error(`${name} is not set`)
  return value
}

const ms = (name: string): number => {
  const value = Number(env(name))
  if (!Number.isInteger(value) || value < 0) throw new Error(`${name} must be a whole number of ms`)
  return value
}

export const settings = {
  table: env('USERS_TABLE'),
  pollIntervalMs: ms('POLL_INTERVAL_MS'),
  maxStalenessMs: ms('MAX_STALENESS_MS'),
  ttl: { minMs: ms('TTL_MIN_MS'), maxMs: ms('TTL_MAX_MS') },
}
