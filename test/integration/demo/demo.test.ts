import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'

const run = promisify(execFile)

describe('npm run demo (the README quick start, against kinesalite)', () => {
  it('runs the quick-start handler in three containers and sees the write reach every one', async () => {
    const { stdout } = await run('npm', ['run', '--silent', 'demo'], { timeout: 60_000 })
    expect(stdout).toMatch(/PUT \/users\/1 +hits 0 misses 0 evicted 1/)
    const seen = stdout.match(/seen by every container within (\d+) ms \(bound: (\d+) ms\)/)
    expect(seen).not.toBeNull()
    expect(Number(seen?.[1])).toBeLessThanOrEqual(Number(seen?.[2]))
    // Each of the other containers evicted users:1 after reading the writer's record.
    expect(
      stdout.match(/container-[23] +GET \/users\/1 +hits 0 misses 1 evicted 1 records 1/g),
    ).toHaveLength(2)
  }, 60_000)
})
