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
          new RegExp(
            `users-${mode}-${container} +GET /users/[12] +miss 1, evicted 1, records 1, polled`,
          ),
        )
      }
    }

    // Every line names the request it served.
    expect(stdout).toMatch(/users-publisher-1 +PUT \/users\/1 +evicted 1/)
    expect(stdout).toMatch(/users-publisher-1 +DELETE \/users\/2 /)
    // The numbers are explained once, before the first line.
    expect(stdout.match(/saved ms +time the hit saved/g)).toHaveLength(1)

    // The summary table: a header, a row per mode with its totals, no index column.
    expect(stdout).toMatch(
      /\ninvalidation +requests +hit ratio +stream ms +saved ms +evicted +records +changes +every container served the change after\n/,
    )
    const rows = [
      ...stdout.matchAll(
        /\n(publisher|table-stream) +(\d+) +([\d.]+)% +(\d+) +(\d+) +(\d+) +(\d+) +2 +(\d+) ms, (\d+) ms(?=\n)/g,
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
    expect(stdout).not.toContain('(index)')
    for (const column of ['hit ratio  reads answered', 'stream ms  time all containers'])
      expect(stdout).toContain(column)
    expect(stdout).toContain('Every change reached every container within the bound')
  }, 90_000)
})
