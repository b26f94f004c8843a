import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { median, sig } from './lib/stats.js'

const root = fileURLToPath(new URL('..', import.meta.url))
const MAX_BYTES = 32 * 1024 * 1024
const FACTOR = 10
const RUNS = 3

interface Sample {
  readonly rss: number
  readonly heapUsed: number
  readonly heapTotal: number
  readonly written: number
  readonly writes: number
  readonly held: number
  readonly estimatedBytes: number
}

export interface MemoryShape {
  /** Bytes written through the cache (by scache's estimate) and entries written, then held. */
  readonly writtenBytes: number
  readonly writes: number
  readonly held: number
  readonly estimatedBytes: number
  /** Growth over the same process with an empty cache, bytes (median of the runs). */
  readonly rssGrowth: number
  readonly heapGrowth: number
  /** Growth of the heap V8 keeps committed (used or not), bytes. */
  readonly heapTotalGrowth: number
  /** Growth / maxBytes − 1: the overhead beyond the byte budget (target ≤ 0.2). */
  readonly rssOverhead: number
  readonly heapOverhead: number
}

export interface MemoryResult {
  readonly maxBytes: number
  readonly factor: number
  readonly runs: number
  readonly emptyRss: number
  readonly emptyHeapUsed: number
  readonly shapes: Record<string, MemoryShape>
}

const sample = (mode: string, shape: string): Sample => {
  const out = execFileSync(
    process.execPath,
    [
      '--expose-gc',
      '--import',
      'tsx',
      'bench/memory-child.ts',
      mode,
      shape,
      String(MAX_BYTES),
      String(FACTOR),
    ],
    {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    },
  )
  return JSON.parse(out) as Sample
}

/**
 * Memory held after writing 10 × maxBytes of values through the cache, each measurement in a
 * fresh process after full collections, against the same process with an empty cache.
 */
export const memory = async (): Promise<MemoryResult> => {
  const empty: Sample[] = []
  const filled = new Map<string, Sample[]>([
    ['objects', []],
    ['strings', []],
  ])
  for (let run = 0; run < RUNS; run++) {
    empty.push(sample('empty', 'objects'))
    for (const [shape, samples] of filled) samples.push(sample('filled', shape))
  }
  const emptyRss = median(empty.map((s) => s.rss))
  const emptyHeap = median(empty.map((s) => s.heapUsed))
  const shapes: Record<string, MemoryShape> = {}
  for (const [shape, samples] of filled) {
    const rssGrowth = median(samples.map((s) => s.rss)) - emptyRss
    const heapGrowth = median(samples.map((s) => s.heapUsed)) - emptyHeap
    const heapTotalGrowth =
      median(samples.map((s) => s.heapTotal)) - median(empty.map((s) => s.heapTotal))
    const last = samples[samples.length - 1] as Sample
    shapes[shape] = {
      writtenBytes: last.written,
      writes: last.writes,
      held: last.held,
      estimatedBytes: last.estimatedBytes,
      rssGrowth,
      heapGrowth,
      heapTotalGrowth,
      rssOverhead: sig(rssGrowth / MAX_BYTES - 1),
      heapOverhead: sig(heapGrowth / MAX_BYTES - 1),
    }
  }
  return {
    maxBytes: MAX_BYTES,
    factor: FACTOR,
    runs: RUNS,
    emptyRss,
    emptyHeapUsed: emptyHeap,
    shapes,
  }
}
