import type { InvocationLog } from './log-line.js'

/**
 * The prototype of the log lines scache builds (`logLine`): a line of this class has only the
 * fields of `InvocationLog`, so `serializeLogLine` may write them from a fixed template. Anything
 * else (an EMF line, a caller's object) goes through `JSON.stringify`.
 */
export class InvocationLogRecord {}

/**
 * A number as `JSON.stringify` writes it. Durations in a log line are rounded to 0.01 ms, and
 * V8's shortest-representation printing of such a double is slow: print them from their integer
 * count of hundredths instead, when that gives back the same double (so the text is the same).
 */
const num = (value: number): string => {
  if (Number.isSafeInteger(value)) return `${value}`
  const hundredths = Math.round(value * 100)
  if (hundredths / 100 !== value || !Number.isSafeInteger(hundredths)) return JSON.stringify(value)
  const abs = Math.abs(hundredths)
  const cents = abs % 100
  const whole = `${value < 0 ? '-' : ''}${(abs - cents) / 100}`
  return cents % 10 === 0 ? `${whole}.${cents / 10}` : `${whole}.${cents < 10 ? '0' : ''}${cents}`
}

const opt = (name: string, value: number | undefined): string =>
  value === undefined ? '' : `,"${name}":${num(value)}`
const flag = (name: string, value: boolean | undefined): string =>
  value === undefined ? '' : `,"${name}":${value}`

/**
 * `JSON.stringify(line)` for a line of `InvocationLogRecord`, written out from the fields of
 * `InvocationLog` in the order `logLine` sets them: the same text in about a third of the time,
 * which on a warm invocation is most of scache's cost. test/unit/telemetry/serialize.test.ts
 * holds it to `JSON.stringify` for every field.
 */
export const serializeLogLine = (l: InvocationLog): string => {
  let out = `{"message":"scache"`
  if (l.requestId !== undefined) out += `,"requestId":${JSON.stringify(l.requestId)}`
  out += `,"streamMs":${num(l.streamMs)},"savedMs":${num(l.savedMs)},"netMs":${num(l.netMs)}`
  out += `,"hits":${num(l.hits)},"misses":${num(l.misses)},"bypassed":${num(l.bypassed)}`
  out += `,"loads":${num(l.loads)},"loadMs":${num(l.loadMs)}`
  if (l.warm !== undefined) out += `,"warm":${JSON.stringify(l.warm)}`
  out += opt('loadTimeouts', l.loadTimeouts)
  out += opt('staleIfError', l.staleIfError)
  out += opt('circuitOpen', l.circuitOpen)
  out += opt('loadRateLimited', l.loadRateLimited)
  out += opt('repolls', l.repolls)
  out += `,"evicted":${num(l.evicted)},"records":${num(l.records)}`
  out += `,"skippedRecords":${num(l.skippedRecords)}`
  if (l.skipped !== undefined) out += `,"skipped":${JSON.stringify(l.skipped)}`
  out += `,"shardsPolled":${num(l.shardsPolled)},"streamCalls":${num(l.streamCalls)}`
  out += `,"pollSkipped":${l.pollSkipped},"polled":${l.polled}`
  out += flag('pollJoined', l.pollJoined)
  out += `,"stalenessMs":${num(l.stalenessMs)}`
  if (l.streamError !== undefined) out += `,"streamError":${JSON.stringify(l.streamError)}`
  out += flag('throttled', l.throttled)
  out += opt('backoffMs', l.backoffMs)
  out += flag('pollDeferred', l.pollDeferred)
  if (l.cleared !== undefined) out += `,"cleared":${JSON.stringify(l.cleared)}`
  out += `,"entries":${num(l.entries)},"bytes":${num(l.bytes)}`
  out += flag('handlerError', l.handlerError)
  return `${out}}`
}

/** The text of any line `log: true` writes: fast for scache's own lines. */
export const serializeLine = (line: object): string =>
  line instanceof InvocationLogRecord
    ? serializeLogLine(line as unknown as InvocationLog)
    : JSON.stringify(line)
