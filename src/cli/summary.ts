import { isObject } from '../validate.js'

/**
 * The report's arithmetic over scache's per-invocation log lines: parsing each line (untrusted:
 * checked field by field) and summing them up.
 */

/** The fields of one invocation's log line that the report uses, checked. */
export interface Entry {
  /** When the line was written (EMF `_aws.Timestamp`, the CloudWatch prefix, or `timestamp`). */
  readonly time: number | undefined
  /**
   * The Lambda execution environment (container) that wrote it: its log stream, when the line
   * names one (`aws logs tail` and `sam logs` print it before the message; exports as JSON
   * carry `logStream` or `@logStream`).
   */
  readonly container: string | undefined
  readonly stalenessMs: number
  readonly streamMs: number
  readonly savedMs: number
  readonly hits: number
  readonly misses: number
  readonly bypassed: number
  readonly loads: number
  readonly loadMs: number
  readonly records: number
  readonly skippedRecords: number
  readonly evicted: number
  readonly polled: boolean
  readonly pollSkipped: boolean
  readonly cleared: string | undefined
  readonly streamError: string | undefined
  readonly throttled: boolean
  readonly handlerError: boolean
}

export type LineKind = 'scache' | 'other' | 'invalid' | 'blank'

/** Lines longer than this are not scache's (its line is a few hundred bytes). */
const MAX_LINE = 1_048_576
/** Untrusted strings (clear reasons, error names) are cut to this length. */
const MAX_LABEL = 80
const ISO_PREFIX = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/
/** A Lambda log stream name: `2025/11/21/[$LATEST]` and the environment's id. */
const LOG_STREAM = /\b\d{4}\/\d{2}\/\d{2}\/\[[^\]\s]{1,64}\][0-9A-Za-z]{1,64}/

const count = (value: unknown): number | undefined =>
  typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : undefined

/** Printed to a terminal as well as into HTML: control characters become U+FFFD. */
const label = (value: unknown): string | undefined =>
  typeof value === 'string' && value !== ''
    ? value.slice(0, MAX_LABEL).replace(/\p{Cc}/gu, '\uFFFD')
    : undefined

const timeOf = (text: string): number | undefined => {
  if (!ISO_PREFIX.test(text)) return undefined
  const ms = Date.parse(text)
  return Number.isNaN(ms) ? undefined : ms
}

/**
 * One line: scache's JSON, alone or after a CloudWatch prefix (`2025-11-21T15:20:00.123Z\t<id>\tINFO\t{…}`).
 * A line that says it is scache's but lacks its numbers is `invalid`; anything else is `other`.
 */
export const parseLine = (
  text: string,
): { kind: Exclude<LineKind, 'scache'> } | { kind: 'scache'; entry: Entry } => {
  const trimmed = text.trim()
  if (trimmed === '') return { kind: 'blank' }
  if (trimmed.length > MAX_LINE) return { kind: 'other' }
  const brace = trimmed.indexOf('{')
  if (brace < 0) return { kind: 'other' }
  let json: unknown
  try {
    json = JSON.parse(trimmed.slice(brace))
  } catch {
    return { kind: trimmed.includes('"scache"') ? 'invalid' : 'other' }
  }
  // Lambda's JSON log format wraps what console.log printed in a string `message`.
  let outerTime: number | undefined
  let outerStream: unknown
  if (isObject(json) && typeof json.message === 'string' && json.message.startsWith('{')) {
    const { message } = json
    outerTime = typeof json.timestamp === 'string' ? timeOf(json.timestamp) : undefined
    outerStream = json.logStream ?? json['@logStream'] ?? json.logStreamName
    try {
      json = JSON.parse(message)
    } catch {
      return { kind: message.includes('"scache"') ? 'invalid' : 'other' }
    }
  }
  if (!isObject(json) || json.message !== 'scache') return { kind: 'other' }
  const streamMs = count(json.streamMs)
  const savedMs = count(json.savedMs)
  const hits = count(json.hits)
  const misses = count(json.misses)
  if (streamMs === undefined || savedMs === undefined || hits === undefined || misses === undefined)
    return { kind: 'invalid' }
  const aws = json._aws
  const prefix = trimmed.slice(0, brace)
  const time =
    (isObject(aws) ? count(aws.Timestamp) : undefined) ??
    outerTime ??
    // `aws logs tail` puts the time first, `sam logs` after the log stream.
    prefix
      .trim()
      .split(/\s+/)
      .map(timeOf)
      .find((t) => t !== undefined) ??
    (typeof json.timestamp === 'string' ? timeOf(json.timestamp) : undefined)
  return {
    kind: 'scache',
    entry: {
      time,
      container: label(outerStream) ?? LOG_STREAM.exec(prefix)?.[0],
      stalenessMs: count(json.stalenessMs) ?? 0,
      streamMs,
      savedMs,
      hits,
      misses,
      bypassed: count(json.bypassed) ?? 0,
      loads: count(json.loads) ?? 0,
      loadMs: count(json.loadMs) ?? 0,
      records: count(json.records) ?? 0,
      skippedRecords: count(json.skippedRecords) ?? 0,
      evicted: count(json.evicted) ?? 0,
      polled: json.polled === true,
      pollSkipped: json.pollSkipped === true,
      cleared: label(json.cleared),
      streamError: label(json.streamError),
      throttled: json.throttled === true,
      handlerError: json.handlerError === true,
    },
  }
}

export interface Percentiles {
  readonly count: number
  readonly p50: number | null
  readonly p90: number | null
  readonly p99: number | null
  readonly max: number | null
}

/** One container's share of the invocations. */
export interface ContainerSummary {
  /** Its log stream; `unknown` for lines that do not name one. */
  readonly name: string
  readonly invocations: number
  readonly hits: number
  readonly misses: number
  readonly hitRatio: number | null
  readonly bypassed: number
  readonly savedMs: number
  readonly streamMs: number
  readonly polls: number
  readonly maxStalenessMs: number
  readonly streamErrors: number
  readonly from: string | null
  readonly to: string | null
}

export interface Summary {
  readonly lines: {
    readonly total: number
    readonly scache: number
    readonly other: number
    readonly invalid: number
  }
  readonly from: string | null
  readonly to: string | null
  readonly invocations: number
  readonly hits: number
  readonly misses: number
  /** hits / (hits + misses); null with no reads. */
  readonly hitRatio: number | null
  readonly bypassed: number
  readonly loads: number
  readonly loadMs: number
  readonly savedMs: number
  readonly streamMs: number
  readonly netMs: number
  readonly perInvocation: {
    readonly savedMs: number | null
    readonly streamMs: number | null
    readonly netMs: number | null
  }
  /** `streamMs` of the invocations that polled. */
  readonly pollMs: Percentiles
  readonly pollsSkipped: number
  readonly records: number
  readonly skippedRecords: number
  readonly evicted: number
  readonly clears: Readonly<Record<string, number>>
  readonly streamErrors: {
    readonly count: number
    readonly byName: Readonly<Record<string, number>>
  }
  readonly throttles: number
  readonly handlerErrors: number
  /** Per container (log stream), busiest first. */
  readonly containers: readonly ContainerSummary[]
}

/** The name of the lines that name no container. */
export const UNKNOWN_CONTAINER = 'unknown'

const ms = (value: number): number => Math.round(value * 100) / 100

/** Nearest-rank percentile of sorted values. */
const percentile = (sorted: readonly number[], p: number): number | null =>
  sorted.length === 0 ? null : (sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)] ?? null)

const tally = (values: readonly (string | undefined)[]): Record<string, number> => {
  // A Map, then an object: a reason like `__proto__` from a log line stays plain data.
  const counts = new Map<string, number>()
  for (const value of values)
    if (value !== undefined) counts.set(value, (counts.get(value) ?? 0) + 1)
  return Object.fromEntries([...counts].sort((a, b) => b[1] - a[1]))
}

export const summarize = (
  entries: readonly Entry[],
  lines: { total: number; other: number; invalid: number },
): Summary => {
  const sum = (pick: (entry: Entry) => number): number =>
    entries.reduce((total, entry) => total + pick(entry), 0)
  const n = entries.length
  const hits = sum((e) => e.hits)
  const misses = sum((e) => e.misses)
  const savedMs = sum((e) => e.savedMs)
  const streamMs = sum((e) => e.streamMs)
  const polls = entries
    .filter((e) => e.polled)
    .map((e) => e.streamMs)
    .sort((a, b) => a - b)
  const times = entries.flatMap((e) => (e.time === undefined ? [] : [e.time]))
  const errors = entries.map((e) => e.streamError)
  return {
    lines: { total: lines.total, scache: n, other: lines.other, invalid: lines.invalid },
    from: times.length === 0 ? null : new Date(Math.min(...times)).toISOString(),
    to: times.length === 0 ? null : new Date(Math.max(...times)).toISOString(),
    invocations: n,
    hits,
    misses,
    hitRatio: hits + misses === 0 ? null : hits / (hits + misses),
    bypassed: sum((e) => e.bypassed),
    loads: sum((e) => e.loads),
    loadMs: ms(sum((e) => e.loadMs)),
    savedMs: ms(savedMs),
    streamMs: ms(streamMs),
    netMs: ms(savedMs - streamMs),
    perInvocation: {
      savedMs: n === 0 ? null : ms(savedMs / n),
      streamMs: n === 0 ? null : ms(streamMs / n),
      netMs: n === 0 ? null : ms((savedMs - streamMs) / n),
    },
    pollMs: {
      count: polls.length,
      p50: percentile(polls, 0.5),
      p90: percentile(polls, 0.9),
      p99: percentile(polls, 0.99),
      max: polls.at(-1) ?? null,
    },
    pollsSkipped: entries.filter((e) => e.pollSkipped).length,
    records: sum((e) => e.records),
    skippedRecords: sum((e) => e.skippedRecords),
    evicted: sum((e) => e.evicted),
    clears: tally(entries.map((e) => e.cleared)),
    streamErrors: {
      count: errors.filter((error) => error !== undefined).length,
      // `Name: message`: messages carry ids and numbers, names group well.
      byName: tally(errors.map((error) => error?.split(':')[0])),
    },
    throttles: entries.filter((e) => e.throttled).length,
    handlerErrors: entries.filter((e) => e.handlerError).length,
    containers: byContainer(entries),
  }
}

const byContainer = (entries: readonly Entry[]): ContainerSummary[] => {
  const groups = new Map<string, Entry[]>()
  for (const entry of entries) {
    const name = entry.container ?? UNKNOWN_CONTAINER
    groups.set(name, [...(groups.get(name) ?? []), entry])
  }
  return [...groups]
    .map(([name, own]) => {
      const sum = (pick: (entry: Entry) => number) => own.reduce((n, e) => n + pick(e), 0)
      const hits = sum((e) => e.hits)
      const misses = sum((e) => e.misses)
      const times = own.flatMap((e) => (e.time === undefined ? [] : [e.time]))
      const first = times.reduce((min, t) => Math.min(min, t), Number.POSITIVE_INFINITY)
      const last = times.reduce((max, t) => Math.max(max, t), Number.NEGATIVE_INFINITY)
      return {
        name,
        invocations: own.length,
        hits,
        misses,
        hitRatio: hits + misses === 0 ? null : hits / (hits + misses),
        bypassed: sum((e) => e.bypassed),
        savedMs: ms(sum((e) => e.savedMs)),
        streamMs: ms(sum((e) => e.streamMs)),
        polls: own.filter((e) => e.polled).length,
        maxStalenessMs: own.reduce((max, e) => Math.max(max, e.stalenessMs), 0),
        streamErrors: own.filter((e) => e.streamError !== undefined).length,
        from: times.length === 0 ? null : new Date(first).toISOString(),
        to: times.length === 0 ? null : new Date(last).toISOString(),
      }
    })
    .sort((a, b) => b.invocations - a.invocations || (a.name < b.name ? -1 : 1))
}

const fmt = (value: number | null, unit = ''): string =>
  value === null ? '-' : `${Number.isInteger(value) ? value : value.toFixed(2)}${unit}`

/** The summary as label/value rows, shared by the text and HTML reports. */
export const summaryRows = (s: Summary): [string, string][] => [
  ['invocations', String(s.invocations)],
  [
    'containers',
    s.containers.every((c) => c.name === UNKNOWN_CONTAINER)
      ? 'not named by the lines (export with the log stream, e.g. aws logs tail)'
      : String(s.containers.filter((c) => c.name !== UNKNOWN_CONTAINER).length),
  ],
  ['period', s.from === null ? '-' : `${s.from} to ${s.to}`],
  [
    'hit ratio',
    s.hitRatio === null
      ? '-'
      : `${(s.hitRatio * 100).toFixed(1)} % (${s.hits} hits, ${s.misses} misses)`,
  ],
  [
    'time saved',
    `${fmt(s.savedMs, ' ms')} (${fmt(s.perInvocation.savedMs, ' ms')} per invocation)`,
  ],
  [
    'time on the stream',
    `${fmt(s.streamMs, ' ms')} (${fmt(s.perInvocation.streamMs, ' ms')} per invocation)`,
  ],
  ['net', `${fmt(s.netMs, ' ms')} (${fmt(s.perInvocation.netMs, ' ms')} per invocation)`],
  [
    'poll latency',
    s.pollMs.count === 0
      ? 'no polls'
      : `p50 ${fmt(s.pollMs.p50)} / p90 ${fmt(s.pollMs.p90)} / p99 ${fmt(s.pollMs.p99)} / max ${fmt(s.pollMs.max)} ms over ${s.pollMs.count} polls`,
  ],
  ['polls skipped (empty cache)', String(s.pollsSkipped)],
  ['loads', `${s.loads} (${fmt(s.loadMs, ' ms')})`],
  ['records read', `${s.records} (${s.skippedRecords} skipped)`],
  ['entries evicted', String(s.evicted)],
  [
    'clears',
    Object.keys(s.clears).length === 0
      ? '0'
      : Object.entries(s.clears)
          .map(([reason, n]) => `${reason} ${n}`)
          .join(', '),
  ],
  ['bypassed reads', String(s.bypassed)],
  [
    'stream errors',
    s.streamErrors.count === 0
      ? '0'
      : `${s.streamErrors.count} (${Object.entries(s.streamErrors.byName)
          .map(([name, n]) => `${name} ${n}`)
          .join(', ')})`,
  ],
  ['throttled polls', String(s.throttles)],
  ['handler errors', String(s.handlerErrors)],
  [
    'lines',
    `${s.lines.total} read: ${s.lines.scache} scache, ${s.lines.other} other, ${s.lines.invalid} invalid`,
  ],
]
