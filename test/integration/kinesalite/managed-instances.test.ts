import { setTimeout as sleep } from 'node:timers/promises'
import type { KinesisClient } from '@aws-sdk/client-kinesis'
import middy from '@middy/core'
import type { Context } from 'aws-lambda'
import { describe, expect, it } from 'vitest'
import {
  createPublisher,
  createScache,
  type InvocationLog,
  scache,
  type WithCache,
} from '../../../src/index.js'
import { lambdaContext } from '../../support/containers.js'
import { useKinesis } from '../../support/kinesis.js'
import { seededRandom } from '../../support/prng.js'
import { VersionedSource } from '../../support/versioned-source.js'

/**
 * Lambda Managed Instances: one execution environment runs many invocations at once, and the
 * Node.js runtime runs those of one worker thread in one event loop, sharing the module scope, so
 * one `scache()` serves them all. Here 40 invocations run at a time through one middleware
 * instance in strict mode (a poll before every request), against kinesalite, while writers publish
 * invalidations concurrently.
 */

const kinesis = useKinesis()

/**
 * The most Kinesis read calls in flight at once on `client`, and how many there were. Each answer
 * comes back `latencyMs` after the emulator served it, as over a network: a poll then misses what
 * is acknowledged while its answer is on the way, and an invocation that began in that time must
 * not rely on it.
 */
const watchReads = (client: KinesisClient, latencyMs: number) => {
  const seen = { inFlight: 0, maxInFlight: 0, calls: 0 }
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === 'PutRecordsCommand') return next(args)
      seen.calls++
      seen.inFlight++
      seen.maxInFlight = Math.max(seen.maxInFlight, seen.inFlight)
      try {
        const output = await next(args)
        await sleep(latencyMs)
        return output
      } finally {
        seen.inFlight--
      }
    },
    { step: 'initialize', name: 'scacheTestWatchReads' },
  )
  return seen
}

describe('many invocations at once in one environment (Lambda Managed Instances, kinesalite)', () => {
  it('strict mode: no stale read, no error, one poll at a time, each line counts its own reads', async () => {
    const random = seededRandom(20261201)
    // One shard: a poll is one read call at a time, so two calls in flight are two polls.
    const stream = await kinesis.createStream(1)
    const client = kinesis.client()
    const reads = watchReads(client, 50)
    const lines: InvocationLog[] = []
    const source = new VersionedSource()
    const middleware = scache({
      stream: { name: stream, client },
      pollIntervalMs: 0,
      onStreamError: 'bypass',
      log: (line) => lines.push(line),
    })
    type Read = { key: string; version: number }
    const handler = middy(async (event: { keys: string[] }, context: Context & WithCache) => {
      const results: Read[] = []
      for (const key of event.keys) {
        const version = await context.cache.getOrLoad(key, async () => {
          await sleep(1 + Math.floor(random() * 3)) // a database round trip
          return source.read(key)
        })
        results.push({ key, version })
      }
      return results
    }).use(middleware)

    const keys = Array.from({ length: 8 }, (_, i) => `items:${i}`)
    const pick = () => keys[Math.floor(random() * keys.length)] ?? 'items:0'
    const publisher = createPublisher({ streamName: stream, client: kinesis.client() })
    const done: { requestId: string; begunAt: number; reads: Read[] }[] = []
    const errors: unknown[] = []
    let writersDone = false
    const minUntil = Date.now() + 2_000
    const writers = Promise.all(
      // Four writers publish at once, 60 writes in all.
      [0, 1, 2, 3].map(async () => {
        for (let n = 0; n < 15; n++) {
          await source.write(pick(), publisher)
          await sleep(10 + Math.floor(random() * 40))
        }
      }),
    ).finally(() => {
      writersDone = true
    })
    const CONCURRENCY = 40
    let inFlight = 0
    let maxInFlight = 0
    const slot = async (n: number) => {
      while (!writersDone || Date.now() < minUntil) {
        // Each invocation reads its own number of keys (1 to 5), so a line holding another
        // invocation's reads cannot add up to its own.
        const event = { keys: Array.from({ length: 1 + ((n + done.length) % 5) }, pick) }
        const context = lambdaContext()
        const begunAt = Date.now()
        inFlight++
        maxInFlight = Math.max(maxInFlight, inFlight)
        try {
          const results = await handler(event, context as Context & WithCache)
          done.push({ requestId: context.awsRequestId, begunAt, reads: results })
        } catch (error) {
          errors.push(error)
        } finally {
          inFlight--
        }
        await sleep(Math.floor(random() * 150))
      }
    }
    await Promise.all([...Array.from({ length: CONCURRENCY }, (_, n) => slot(n)), writers])

    expect(errors).toEqual([])
    expect(maxInFlight).toBe(CONCURRENCY)
    // Stale: a read of a version older than one acknowledged before its invocation began. Both
    // times are taken on the safe side (the acknowledgment after `invalidate` resolved, the start
    // before the handler was called), so a busy machine can only hide a stale read, never make one.
    let stale = 0
    let overtaken = 0
    for (const invocation of done)
      for (const read of invocation.reads) {
        const overtakenAt = source.overtakenAt(read.key, read.version)
        if (overtakenAt === undefined) continue
        overtaken++
        if (overtakenAt < invocation.begunAt) stale++
      }
    expect(stale).toBe(0)
    // The writes did overtake values in the cache while invocations were running.
    expect(overtaken).toBeGreaterThan(0)

    // Every invocation wrote one line, and its reads are its own.
    expect(lines).toHaveLength(done.length)
    const byRequest = new Map(lines.map((line) => [line.requestId, line]))
    for (const invocation of done) {
      const line = byRequest.get(invocation.requestId)
      expect(line).toBeDefined()
      expect((line?.hits ?? 0) + (line?.misses ?? 0) + (line?.bypassed ?? 0)).toBe(
        invocation.reads.length,
      )
    }
    const total = (field: 'hits' | 'misses' | 'bypassed' | 'streamCalls') =>
      lines.reduce((sum, line) => sum + line[field], 0)
    // The cache was used.
    expect(total('hits')).toBeGreaterThan(0)
    expect(total('bypassed')).toBe(0)

    // One poll at a time: never two read calls in flight on the one shard. Polls were shared: far
    // fewer ran than invocations began, the rest joined one; and a joined poll's calls are on the
    // line of the invocation that ran it only, so the lines add up to the calls Kinesis served.
    expect(reads.maxInFlight).toBe(1)
    const ran = lines.filter((line) => line.polled).length
    const joined = lines.filter((line) => line.pollJoined === true).length
    expect(joined).toBeGreaterThan(0)
    expect(ran).toBeLessThan(lines.length / 2)
    expect(lines.filter((line) => line.polled && line.pollJoined === true)).toEqual([])
    expect(total('streamCalls')).toBe(reads.calls)
    expect(middleware.instance.stats()).toMatchObject({ invocations: lines.length, polls: ran })
    console.info(
      'managed instances',
      JSON.stringify({
        invocations: lines.length,
        concurrency: CONCURRENCY,
        pollsRun: ran,
        pollsJoined: joined,
        readCalls: reads.calls,
        hits: total('hits'),
        misses: total('misses'),
        overtaken,
        stale,
      }),
    )
  })

  it('an invocation ending does not touch another: each line has its own reads', async () => {
    const stream = await kinesis.createStream(1)
    const instance = createScache({
      stream: { name: stream, client: kinesis.client() },
      pollIntervalMs: 0,
      log: () => {},
    })
    const first = await instance.begin(lambdaContext())
    const second = await instance.begin(lambdaContext())
    expect(await first.cache.getOrLoad('users:1', () => 'Ada')).toBe('Ada')
    const firstLine = first.end()
    expect(second.cache.get('users:1')).toBe('Ada')
    expect(await second.cache.getOrLoad('users:2', () => 'Grace')).toBe('Grace')
    expect(second.cache.get('users:3')).toBeUndefined()
    expect(firstLine).toMatchObject({ hits: 0, misses: 1, loads: 1 })
    expect(second.end()).toMatchObject({ hits: 1, misses: 2, loads: 1 })
    expect(instance.stats()).toMatchObject({ invocations: 2, hits: 1, misses: 3, loads: 2 })
  })

  it('a read waits for another invocation’s poll only when its own repoll is due', async () => {
    const stream = await kinesis.createStream(1)
    const client = kinesis.client()
    const calls = watchReads(client, 0)
    // The other invocation's poll is answered only when the test lets it go, and the clock is
    // the test's own: however busy the machine, that poll is in flight and the reader's own is
    // less than a second old when the reader reads.
    let hold: Promise<void> | undefined
    client.middlewareStack.add(
      (next) => async (args) => {
        const output = await next(args)
        await hold
        return output
      },
      { step: 'initialize', name: 'scacheTestHeldAnswer' },
    )
    const now = Date.now()
    const instance = createScache({
      stream: { name: stream, client },
      clock: { now: () => now },
      pollIntervalMs: 0,
      log: () => {},
    })
    const reader = await instance.begin(lambdaContext())
    expect(await reader.cache.getOrLoad('users:1', () => 'Ada')).toBe('Ada')
    let release = () => {}
    hold = new Promise((resolve) => (release = resolve))
    const other = instance.begin(lambdaContext())
    while (calls.inFlight === 0) await sleep(5) // its poll is sent, and its answer held
    // The reader reads without waiting for the other's poll, and counts no repoll for a poll it
    // did not need.
    const read = reader.cache.getOrLoad('users:1', () => 'not called')
    let timer: NodeJS.Timeout | undefined
    const waited = new Promise((resolve) => {
      timer = setTimeout(() => resolve('waited for the other poll'), 5_000)
    })
    expect(await Promise.race([read, waited])).toBe('Ada')
    clearTimeout(timer)
    expect(reader.end().repolls).toBeUndefined()
    hold = undefined
    release()
    expect((await other).end()).toMatchObject({ polled: true })
  })

  it('an invocation past its timeout (reported, not enforced) still gives its poll the whole budget', async () => {
    const stream = await kinesis.createStream(1)
    const client = kinesis.client()
    watchReads(client, 50)
    const instance = createScache({
      stream: { name: stream, client },
      pollIntervalMs: 0,
      log: () => {},
    })
    const first = await instance.begin(lambdaContext())
    first.cache.set('users:1', 'Ada')
    first.end()
    const late = await instance.begin({ ...lambdaContext(), getRemainingTimeInMillis: () => -5 })
    expect(late.poll).toMatchObject({ ok: true })
    expect(late.cache.get('users:1')).toBe('Ada')
    expect(late.end()).toMatchObject({ polled: true, hits: 1, bypassed: 0 })
  })

  it('a load joined from another invocation waits within the joiner’s deadline, not the starter’s', async () => {
    const stream = await kinesis.createStream(1)
    const instance = createScache({
      stream: { name: stream, client: kinesis.client() },
      log: () => {},
    })
    // The starter has 100 ms left; the joiner has its 30 s.
    const ending = { ...lambdaContext(), getRemainingTimeInMillis: () => 100 }
    const starter = await instance.begin(ending)
    const joiner = await instance.begin(lambdaContext())
    const slow = () => sleep(400).then(() => 'Ada')
    const started = starter.cache.getOrLoad('users:1', slow)
    const joined = joiner.cache.getOrLoad('users:1', () => 'not called: the load is joined')
    await expect(started).rejects.toMatchObject({ name: 'LoadTimeoutError', timeoutMs: 100 })
    expect(await joined).toBe('Ada')
    // The loader ran (400 ms) in the starter's invocation, which gave up waiting at 100 ms.
    expect(starter.end()).toMatchObject({ loadTimeouts: 1, loads: 1 })
    expect(joiner.end()).toMatchObject({ misses: 1, loads: 0 })
    // Given up by its starter, the late value was not stored.
    expect(instance.cache.get('users:1')).toBeUndefined()
  })

  it('the warm-up is reported once, on one line, though first invocations arrive together', async () => {
    const stream = await kinesis.createStream(1)
    const lines: InvocationLog[] = []
    const instance = createScache({
      stream: { name: stream, client: kinesis.client() },
      warm: { keys: ['users:1'], load: () => ({ 'users:1': 'Ada' }) },
      log: (line) => lines.push(line),
    })
    const invocations = await Promise.all(
      Array.from({ length: 8 }, () => instance.begin(lambdaContext())),
    )
    for (const invocation of invocations) expect(invocation.cache.get('users:1')).toBe('Ada')
    for (const invocation of invocations) invocation.end()
    expect(lines.filter((line) => line.warm !== undefined)).toHaveLength(1)
    expect(lines.find((line) => line.warm !== undefined)?.warm).toMatchObject({
      keys: 1,
      loaded: 1,
    })
  })
})
