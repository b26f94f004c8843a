import { describe, expect, it } from 'vitest'
import { bucketize, renderHtml } from '../../../src/cli/report-html.js'
import { type Entry, parseLine, summarize } from '../../../src/cli/summary.js'

const line = (fields: Record<string, unknown> = {}) =>
  JSON.stringify({ message: 'scache', streamMs: 2, savedMs: 5, hits: 1, misses: 0, ...fields })

const entry = (text: string): Entry => {
  const parsed = parseLine(text)
  if (parsed.kind !== 'scache') throw new Error(`not a scache line: ${parsed.kind}`)
  return parsed.entry
}

describe('report: parseLine', () => {
  it('takes the time from EMF, a CloudWatch or `aws logs tail` prefix, or Lambda’s JSON log format', () => {
    expect(entry(line({ _aws: { Timestamp: 1_763_738_400_123 } })).time).toBe(1_763_738_400_123)
    expect(entry(`2025-11-21T15:20:00.123Z\tr-1\tINFO\t${line()}`).time).toBe(1_763_738_400_123)
    expect(entry(`2025-11-21T15:20:00.123000+00:00 2025/11/21/[$LATEST]ab ${line()}`).time).toBe(
      1_763_738_400_123,
    )
    const wrapped = JSON.stringify({ timestamp: '2025-11-21T15:20:00.123Z', message: line() })
    expect(entry(wrapped)).toMatchObject({ time: 1_763_738_400_123, savedMs: 5 })
    expect(entry(line()).time).toBeUndefined()
  })

  it('counts lines that are not scache’s apart from scache lines it cannot read', () => {
    for (const other of ['START RequestId: 1', '{"message":"hello"}', '[1,2]', '{"a":']) {
      expect(parseLine(other).kind).toBe('other')
    }
    for (const invalid of [
      line({ hits: 'many' }),
      line({ streamMs: -1 }),
      line({ savedMs: null }),
      '{"message":"scache","streamMs":1',
    ]) {
      expect(parseLine(invalid).kind).toBe('invalid')
    }
    expect(parseLine('   ').kind).toBe('blank')
  })

  it('keeps hostile labels as plain data, cut short', () => {
    const entries = [
      entry(line({ cleared: '__proto__' })),
      entry(line({ cleared: 'x'.repeat(500), streamError: 'constructor: boom' })),
    ]
    const summary = summarize(entries, { total: 2, other: 0, invalid: 0 })
    expect(Object.getPrototypeOf(summary.clears)).toBe(Object.prototype)
    expect(Object.hasOwn(summary.clears, '__proto__')).toBe(true)
    expect(Object.keys(summary.clears).every((reason) => reason.length <= 80)).toBe(true)
    expect(summary.streamErrors.byName).toEqual({ constructor: 1 })
    // Nothing from a log line reaches a terminal as a control sequence.
    expect(entry(line({ cleared: 'a\u001b[2Jb' })).cleared).toBe('a\uFFFD[2Jb')
  })
})

describe('report: summarize and the chart', () => {
  it('an empty input has no ratio and no percentiles, and still renders', () => {
    const summary = summarize([], { total: 3, other: 3, invalid: 0 })
    expect(summary).toMatchObject({
      invocations: 0,
      hitRatio: null,
      pollMs: { count: 0, p50: null, max: null },
      perInvocation: { savedMs: null },
    })
    expect(renderHtml(summary, [])).toContain('<svg')
  })

  it('buckets by line order when a line has no time, by time otherwise', () => {
    const untimed = Array.from({ length: 130 }, () => entry(line()))
    const byOrder = bucketize(untimed)
    expect(byOrder.byTime).toBe(false)
    expect(byOrder.buckets.length).toBeLessThanOrEqual(60)
    expect(byOrder.buckets.reduce((n, b) => n + b.invocations, 0)).toBe(130)
    const timed = [0, 30_000, 61_000].map((t) => entry(line({ _aws: { Timestamp: 1e12 + t } })))
    const byTime = bucketize(timed)
    expect(byTime.byTime).toBe(true)
    expect(byTime.buckets.map((b) => b.savedMs).reduce((a, b) => a + b)).toBe(15)
  })

  it('escapes what log lines say', () => {
    const hostile = entry(line({ cleared: '<script>alert(1)</script>' }))
    const page = renderHtml(summarize([hostile], { total: 1, other: 0, invalid: 0 }), [hostile])
    expect(page).not.toContain('<script>')
    expect(page).toContain('&lt;script&gt;')
  })
})
