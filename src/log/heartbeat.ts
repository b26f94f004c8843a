import { type KinesisClient, PutRecordCommand } from '@aws-sdk/client-kinesis'
import { ScacheOptionsError } from '../errors.js'
import { createDefaultClient, streamParams } from '../stream/client.js'
import { describe, integer, isObject, onlyKnown } from '../validate.js'
import { timerSleep } from './append.js'
import { heartbeatRecord } from './entry.js'

/** The schedule that invokes the heartbeat: EventBridge's shortest rate, one minute. */
export const HEARTBEAT_PERIOD_MS = 60_000
/** Default time between heartbeat records, ms. */
export const DEFAULT_HEARTBEAT_INTERVAL_MS = 5_000

export interface HeartbeatOptions {
  /** The invalidation stream (name or ARN). */
  readonly stream: string
  /** Time between heartbeat records, ms: 1,000 to 60,000. Default 5,000. */
  readonly intervalMs?: number
  readonly client?: KinesisClient
  readonly sleep?: (ms: number) => Promise<void>
}

export interface HeartbeatReport {
  readonly beats: number
  readonly failures: number
}

/**
 * The heartbeat: a handler for a schedule that fires every minute (EventBridge's shortest rate),
 * putting a heartbeat record on the stream every `intervalMs` through that minute. The relay
 * appends each like any batch, so the log moves while writers are quiet, and a container can tell
 * a quiet log from a stuck relay: its newest entry then ages past `maxStalenessMs`. A failed put
 * is counted and the next one tried; a missed beat only makes containers bypass sooner.
 */
export const createHeartbeat = (options: HeartbeatOptions) => {
  if (!isObject(options))
    throw new ScacheOptionsError('options', `must be { stream } (got ${describe(options)})`)
  onlyKnown('', options, ['stream', 'intervalMs', 'client', 'sleep'])
  if (typeof options.stream !== 'string' || options.stream === '')
    throw new ScacheOptionsError('stream', 'is required: the invalidation stream name or ARN')
  const intervalMs = integer(
    'intervalMs',
    options.intervalMs ?? DEFAULT_HEARTBEAT_INTERVAL_MS,
    1_000,
    HEARTBEAT_PERIOD_MS,
  )
  const client = options.client ?? createDefaultClient({ maxAttempts: 2 })
  const sleep = options.sleep ?? timerSleep
  return async function scacheHeartbeat(
    _event?: unknown,
    context?: { getRemainingTimeInMillis?(): number },
  ): Promise<HeartbeatReport> {
    // Beats for one period (the next invocation takes over), within the invocation's time.
    const budgetMs = Math.min(
      HEARTBEAT_PERIOD_MS,
      (context?.getRemainingTimeInMillis?.() ?? HEARTBEAT_PERIOD_MS) - 1_000,
    )
    const beats = Math.max(1, Math.floor(budgetMs / intervalMs))
    let failures = 0
    for (let beat = 0; beat < beats; beat++) {
      if (beat > 0) await sleep(intervalMs)
      try {
        await client.send(
          new PutRecordCommand({
            ...streamParams(options.stream),
            PartitionKey: `heartbeat-${beat}`,
            Data: new TextEncoder().encode(heartbeatRecord(Date.now())),
          }),
        )
      } catch {
        failures++
      }
    }
    return { beats, failures }
  }
}
