import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { estimateBytes } from '../../../src/cache/index.js'

const sizeModule = join(import.meta.dirname, '../../../src/cache/size.ts')

/** Runs `code` (with `estimateBytes` in scope) in a child whose heap is capped at `heapMb`. */
const inSmallHeap = (code: string, heapMb: number) =>
  spawnSync(
    process.execPath,
    [
      '--import',
      'tsx',
      `--max-old-space-size=${heapMb}`,
      '--input-type=module',
      '-e',
      `import { estimateBytes } from ${JSON.stringify(sizeModule)}\n${code}`,
    ],
    { encoding: 'utf8', timeout: 60_000 },
  )

describe('estimateBytes: sparse arrays', () => {
  it('refuses an array of length 2^32 − 1 without walking its holes, in a 64 MiB heap', () => {
    // Expanding every slot pushes 4 billion holes: an out-of-memory crash, not an answer.
    const result = inSmallHeap(
      'const a = []; a[2 ** 32 - 2] = 1; console.log(String(estimateBytes(a)))',
      64,
    )
    expect(result.stderr).not.toMatch(/heap out of memory|FATAL/i)
    expect(result.status).toBe(0)
    expect(result.stdout.trim()).toBe('Infinity')
  })

  it('refuses a sparse array whose length exceeds the node budget, and sizes a small one', () => {
    const sparse: number[] = []
    sparse[2 ** 26] = 1
    expect(estimateBytes(sparse)).toBe(Number.POSITIVE_INFINITY)
    const holey: number[] = []
    holey[9] = 1
    // All ten slots are paid for, holes included.
    expect(estimateBytes(holey)).toBeGreaterThanOrEqual(8 * 10)
    expect(Number.isFinite(estimateBytes(holey))).toBe(true)
  })
})
