import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'

const run = promisify(execFile)

describe('npm run demo (the README quick start: the local stack, driven over HTTP)', () => {
  it('runs both invalidation modes; every write reaches every container; prints the summary', async () => {
    const { stdout } = await run('npm', ['run', '--silent', 'demo'], { timeout: 90_000 })

    // Each change, in each mode, reached both other containers within the bound.
    const reached = [...stdout.matchAll(/every container serves the change (\d+) ms after/g)]
    expect(reached).toHaveLength(4)
    for (const [, ms] of reached) expect(Number(ms)).toBeLessThanOrEqual(2_000)
    // The other containers evicted on reading the record: the publisher's, then the table's.
    for (const mode of ['publisher', 'table-stream']) {
      for (const container of [2, 3]) {
        expect(stdout).toMatch(
          new RegExp(`users-${mode}-${container} +miss 1, evicted 1, records 1, polled`),
        )
      }
    }

    // The summary table: a row per mode, with its totals.
    const rows = [
      ...stdout.matchAll(
        /│ \d+ +│ '(publisher|table-stream)' +│ (\d+) +│ '([\d.]+)%' +│ (\d+) +│ (\d+) +│ (\d+) +│ (\d+) +│ 2 +│ '(\d+), (\d+)'/g,
      ),
    ]
    expect(rows.map((row) => row[1])).toEqual(['publisher', 'table-stream'])
    for (const [, , requests, hitRatio, , savedMs, evicted] of rows) {
      // 27 reads, 2 writes and their propagation reads, and the 300-read burst.
      expect(Number(requests)).toBeGreaterThan(330)
      expect(Number(hitRatio)).toBeGreaterThan(80)
      expect(Number(savedMs)).toBeGreaterThan(0)
      expect(Number(evicted)).toBeGreaterThanOrEqual(6)
    }
    expect(stdout).toContain('Every change reached every container within the bound')
  }, 90_000)
})
