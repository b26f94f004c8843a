import { setMaxListeners } from 'node:events'
import type { VirtualTime } from './time.js'

/** What a simulated service answers a call with; `'hang'`: nothing, ever. */
export type Outcome = { ok: true; output: unknown } | { ok: false; error: unknown } | 'hang'

/** The operation a command names, as the SDK's error messages and metrics do: `GetRecords`. */
export const operationOf = (command: unknown): string =>
  (command as { constructor: { name: string } }).constructor.name.replace(/Command$/, '')

/**
 * One call of a simulated client, as the SDK makes one: `answer` decides the outcome as of now,
 * which arrives `latencyMs` later; the caller's abort signal rejects it with an `AbortError` at
 * any point before (a hung call ends only so). A call whose signal has already aborted is not
 * sent at all.
 */
export const simulatedCall = (
  time: VirtualTime,
  signal: AbortSignal | undefined,
  latencyMs: () => number,
  answer: () => Outcome,
): Promise<unknown> =>
  new Promise((resolve, reject) => {
    const abort = () => {
      const error = new Error('Request aborted')
      error.name = 'AbortError'
      reject(error)
    }
    if (signal?.aborted) return abort()
    if (signal !== undefined) {
      // A poll reads many shards (and a relay appends many entries) under one signal.
      setMaxListeners(1_000, signal)
      signal.addEventListener('abort', abort, { once: true })
    }
    const outcome = answer()
    if (outcome === 'hang') return
    time.setTimer(() => {
      signal?.removeEventListener('abort', abort)
      if (signal?.aborted) return
      if (outcome.ok) resolve(outcome.output)
      else reject(outcome.error)
    }, latencyMs())
  })
