import { describe, expect, it } from 'vitest'
import type { Entry } from '../../../src/cli/summary.js'
import { parseLine, summarize } from '../../../src/cli/summary.js'

/** Lines as a log-mode deployment writes them: containers' scache lines and the relay's own. */
const container = (fields: Record<string, unknown>) =>
  JSON.stringify({ message: 'scache', streamMs: 3, savedMs: 9, hits: 2, misses: 1, ...fields })
const relayLine = JSON.stringify({
  relay: 'batch',
  shard: 'shardId-000000000000',
  records: 2,
  invalidations: 1,
  heartbeats: 1,
  skippedRecords: 0,
  entries: 1,
  appended: 1,
})

describe('report on log mode', () => {
  it("reads containers' lines (a relay behind included) and counts the relay's apart", () => {
    const texts = [
      container({ polled: true, streamCalls: 1, shardsPolled: 1, records: 1, evicted: 1 }),
      container({ polled: true, streamCalls: 1, shardsPolled: 1, bypassed: 3, hits: 0 }),
      container({
        polled: true,
        streamCalls: 2,
        bypassed: 3,
        hits: 0,
        streamError: 'RelayBehind: the log covers the stream only up to 12000 ms ago',
      }),
      container({ polled: true, cleared: 'retention' }),
      relayLine,
    ]
    const parsed = texts.map(parseLine)
    const entries = parsed.flatMap((p): Entry[] => (p.kind === 'scache' ? [p.entry] : []))
    expect(parsed.map((p) => p.kind)).toEqual(['scache', 'scache', 'scache', 'scache', 'other'])
    const summary = summarize(entries, { total: 5, other: 1, invalid: 0 })
    expect(summary.lines).toEqual({ total: 5, scache: 4, other: 1, invalid: 0 })
    expect(summary.streamErrors).toEqual({ count: 1, byName: { RelayBehind: 1 } })
    expect(summary.clears).toEqual({ retention: 1 })
  })
})
