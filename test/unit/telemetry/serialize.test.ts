import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { type Counters, type InvocationStart, logLine } from '../../../src/core/invocation.js'
import type { ClearReason, SkipReason } from '../../../src/index.js'
import type { SourcePollResult } from '../../../src/source/index.js'
import { serializeLine } from '../../../src/telemetry/serialize.js'

const ms = fc.oneof(
  fc.double({ min: -1e9, max: 1e9, noNaN: true }),
  fc.constantFrom(0, -0, 0.004, 0.005, 0.07, 12.3, -0.01, 1e15 + 0.5),
  fc.integer({ min: -1e6, max: 1e6 }).map((n) => n / 1_000),
)
const count = fc.oneof(fc.nat(), fc.constant(0))
const text = fc.string({ unit: 'binary' })

const poll: fc.Arbitrary<SourcePollResult> = fc.record({
  ok: fc.boolean(),
  records: count,
  skippedRecords: count,
  droppedEntries: count,
  invalidations: count,
  shardsPolled: count,
  throttled: fc.boolean(),
  calls: fc.dictionary(fc.constantFrom('GetRecords', 'ListShards', 'GetShardIterator'), count),
  errors: fc.array(fc.record({ name: text, message: text }), { maxLength: 2 }),
})

const start: fc.Arbitrary<InvocationStart> = fc.record({
  requestId: fc.option(text, { nil: undefined }),
  streamMs: ms,
  poll: fc.option(poll, { nil: undefined }),
  pollSkipped: fc.boolean(),
  pollJoined: fc.boolean(),
  deferred: fc.boolean(),
  stalenessMs: ms,
  backoffMs: fc.option(ms, { nil: undefined }),
  warmed: fc.option(
    fc.record(
      { keys: count, loaded: count, ms, error: text },
      { requiredKeys: ['keys', 'loaded', 'ms'] },
    ),
    { nil: undefined },
  ),
  skipped: fc.array(
    fc.record({
      shardId: text,
      sequenceNumber: text,
      reason: fc.constant('malformed' as SkipReason),
    }),
    { maxLength: 2 },
  ),
})

const counters: fc.Arbitrary<Counters> = fc.record({
  hits: count,
  misses: count,
  bypassed: count,
  savedMs: ms,
  loads: count,
  loadMs: ms,
  loadTimeouts: count,
  staleIfError: count,
  circuitOpen: count,
  loadRateLimited: count,
  repolls: count,
  evicted: count,
  cleared: fc.option(fc.constantFrom<ClearReason>('invalidate-all', 'behind', 'replica-switched'), {
    nil: undefined,
  }),
})

describe('serializeLine', () => {
  it("writes exactly what JSON.stringify writes for any of scache's log lines", () => {
    fc.assert(
      fc.property(start, counters, count, count, fc.boolean(), (s, c, size, bytes, error) => {
        const line = logLine(s, c, { size, bytes }, error)
        expect(serializeLine(line)).toBe(JSON.stringify(line))
      }),
      { numRuns: 3_000 },
    )
  })

  it('writes rounded durations digit for digit', () => {
    const base = fc.sample(start, 1)[0] as InvocationStart
    const zero = fc.sample(counters, 1)[0] as Counters
    for (let n = -3_000; n <= 3_000; n++) {
      const line = logLine(
        { ...base, streamMs: n / 100, stalenessMs: 123_456 + n / 100 },
        zero,
        { size: 1, bytes: 2 },
        false,
      )
      expect(serializeLine(line)).toBe(JSON.stringify(line))
    }
  })

  it('leaves any other object (an EMF line, a caller-built line) to JSON.stringify', () => {
    const other = { dimension: 'x', message: 'scache', hits: 1, extra: [1, 'two'] }
    expect(serializeLine(other)).toBe(JSON.stringify(other))
  })
})
