import { describe, expect, it } from 'vitest'
import { createPublisher, createScache } from '../../src/index.js'
import { seededRandom } from '../support/prng.js'
import { noFaults, SimulatedStream } from '../support/simulation/kinesis.js'
import { VirtualTime } from '../support/simulation/time.js'

/**
 * Found by the simulation (`npm run simulate`, seeds with a recreated stream): a container that
 * has not listed the shards since its cold start (its polls skipped, its cache empty) holds a
 * position that is only a timestamp. A stream deleted and created again under the same name
 * accepts it, so the invalidations written to the old stream in between were lost, and values
 * loaded before them were served past `maxStalenessMs`.
 */

interface Scenario {
  /** The container's clock steps by this much before its second request. */
  readonly clockStepMs: number
  /** The container makes a request while the stream is being deleted. */
  readonly duringDeletion: boolean
}

const run = async ({ clockStepMs, duringDeletion }: Scenario): Promise<string[]> => {
  const time = new VirtualTime(Date.UTC(2026, 0, 1))
  const random = seededRandom(1)
  const stream = new SimulatedStream({
    name: 'invalidations',
    shards: 1,
    time,
    random,
    visibilityDelayMs: 0,
    childShards: true,
  })
  const client = () =>
    stream.client(
      () => noFaults,
      () => 5,
    )
  let offsetMs = 0
  const container = createScache({
    stream: { name: 'invalidations', client: client() },
    clock: { now: () => time.now + offsetMs, random },
    ttl: { minMs: 600_000, maxMs: 600_000 },
    maxStalenessMs: 10_000,
    onStreamError: 'serve-stale',
    log: false,
  })
  const publisher = createPublisher({ streamName: 'invalidations', client: client() })
  let version = 0
  const steps: string[] = []
  const scenario = async () => {
    // Cold start: nothing cached, so the poll is skipped; a value is loaded.
    let invocation = await container.begin()
    steps.push(`skipped: ${invocation.poll === undefined}`)
    await invocation.cache.getOrLoad('users:1', () => version)
    invocation.end()
    // Another writer changes it, and its invalidation is acknowledged on the stream.
    await time.sleep(1_000)
    version = 1
    await publisher.invalidate('users:1')
    // The stream is deleted and created again (it takes Kinesis over a minute).
    await time.sleep(1_000)
    stream.recreate(90_000)
    if (duringDeletion) {
      await time.sleep(5_000)
      invocation = await container.begin()
      steps.push(`during deletion: ${invocation.poll?.errors.map((error) => error.name)}`)
      invocation.end()
    }
    await time.sleep(100_000)
    offsetMs += clockStepMs
    invocation = await container.begin()
    steps.push(`restarted: ${invocation.poll?.restarted}`)
    steps.push(`served: ${invocation.cache.get('users:1')}`)
    invocation.end()
  }
  time.install(seededRandom(2))
  let done = false
  try {
    scenario().finally(() => {
      done = true
    })
    await time.run(Number.POSITIVE_INFINITY, () => done)
  } finally {
    time.uninstall()
  }
  return steps
}

describe('a stream recreated before the first listing', () => {
  // Version 0 was invalidated 100 s before the last read: it must not be served.
  const after = ['restarted: stream-recreated', 'served: undefined']

  it('restarts after a gap a recreation fits in', async () => {
    expect(await run({ clockStepMs: 0, duringDeletion: false })).toEqual([
      'skipped: true',
      ...after,
    ])
  })

  it('restarts when the clock stepped back, the gap unknown', async () => {
    expect(await run({ clockStepMs: -200_000, duringDeletion: false })).toEqual([
      'skipped: true',
      ...after,
    ])
  })

  it('restarts after the stream was seen missing, however short the gap looks', async () => {
    // The clock steps back 60 s: the last request seems to come 45 s after the first.
    expect(await run({ clockStepMs: -60_000, duringDeletion: true })).toEqual([
      'skipped: true',
      'during deletion: ResourceNotFoundException',
      ...after,
    ])
  })
})
