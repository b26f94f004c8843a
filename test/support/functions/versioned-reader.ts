/**
 * A Lambda function module as it would be deployed: `scache()` at module scope, configured from
 * the environment (SCACHE_STREAM_NAME, AWS_ENDPOINT_URL_KINESIS, and SCACHE_TEST_OPTIONS for the
 * options under test), with scache's default Kinesis client. Each import under its own query
 * string (`?container=n`) is a separate module instance: one simulated warm container.
 *
 * The "database" is shared by every container, as a real one would be: the test registers it on
 * `globalThis` under DATABASE (./database.ts).
 */
import { setTimeout as sleep } from 'node:timers/promises'
import middy from '@middy/core'
import type { Context } from 'aws-lambda'
import { type ScacheOptions, scache, type WithCache } from '../../../src/index.js'
import { DATABASE, type VersionedDatabase } from './database.js'

const database = (): VersionedDatabase =>
  (globalThis as { [DATABASE]?: VersionedDatabase })[DATABASE] ??
  (() => {
    throw new Error('register a VersionedDatabase on globalThis[DATABASE] first')
  })()

export const cache = scache({
  ...(JSON.parse(process.env.SCACHE_TEST_OPTIONS ?? '{}') as ScacheOptions),
  log: (line) => database().log(line),
})

/** Reads each key through the cache; reports the version read and when it was asked for. */
export const handler = middy(async (event: { keys: string[] }, context: Context & WithCache) => {
  const results: { key: string; version: number; readAt: number }[] = []
  for (const key of event.keys) {
    const readAt = Date.now()
    const version = await context.cache.getOrLoad(key, async () => {
      await sleep(1 + Math.floor(Math.random() * 3)) // a database round trip
      return database().read(key)
    })
    results.push({ key, version, readAt })
  }
  return results
}).use(cache)
