import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { retainedShapes } from './lib/retained-shapes.js'
import { median, sig } from './lib/stats.js'

const root = fileURLToPath(new URL('..', import.meta.url))
const MAX_BYTES = 32 * 1024 * 1024
const FACTOR = 10
const RUNS = 5
const SHAPES = ['objects', 'strings'] as const

interface Space {
  readonly committed: number
  readonly used: number
}

interface Sample {
  readonly rss: number
  readonly heapUsed: number
  readonly heapTotal: number
  readonly external: number
  /** Linux only. */
  readonly resident?: { readonly anon: number; readonly file: number }
  readonly spaces: Record<string, Space>
  readonly written: number
  readonly writes: number
  readonly held: number
  readonly estimatedBytes: number
}

/** Where a process's resident memory is, bytes (each the median of the runs). */
export interface MemoryParts {
  readonly rss: number
  /** Resident file-backed pages (the node binary, libraries); undefined off Linux. */
  readonly file?: number
  /** Resident anonymous memory: V8's heap, malloc, stacks; undefined off Linux. */
  readonly anon?: number
  /** Heap V8 has committed, all spaces. */
  readonly heapCommitted: number
  /** The young generation's semi-spaces. */
  readonly newSpace: number
  readonly oldSpace: number
  readonly oldSpaceUsed: number
  readonly codeSpace: number
  /** Objects too large for a page (large hash tables and arrays among them). */
  readonly largeObjects: number
  readonly otherSpaces: number
  /** Anonymous memory outside V8's spaces: malloc (buffers, GC threads' arenas), pages V8 keeps pooled, stacks. */
  readonly outsideHeap?: number
  readonly heapUsed: number
  /** Memory V8 is told of outside its heap (buffers), part of `outsideHeap`. */
  readonly external: number
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
  /** The sink's growth over the empty cache: what generating and writing the values costs alone. */
  readonly sinkRssGrowth: number
  /** Growth over the sink (the same values, written and evicted at once), bytes. */
  readonly rssGrowthOverSink: number
  /** rssGrowthOverSink / maxBytes − 1. */
  readonly rssOverheadOverSink: number
  readonly sink: MemoryParts
  readonly filled: MemoryParts
}

/** Heap retained and estimated per value and per cache entry of one shape of value, bytes. */
export interface RetainedShape {
  readonly value: number
  readonly valueEstimate: number
  readonly entry: number
  readonly entryEstimate: number
  /** For a shape decoded from JSON: the estimates with `madeBy: 'json'`. */
  readonly valueEstimateJson?: number
  readonly entryEstimateJson?: number
}

export interface MemoryResult {
  readonly maxBytes: number
  readonly factor: number
  readonly runs: number
  readonly emptyRss: number
  readonly emptyHeapUsed: number
  readonly empty: MemoryParts
  readonly shapes: Record<string, MemoryShape>
  /** Values of each shape retained, against scache's estimate (bench/memory-retained.ts), each shape in a process of its own. */
  readonly retainedCount: number
  readonly retained: Record<string, RetainedShape>
}

const RETAINED_COUNT = 20_000

/** Runs a bench script in a fresh process with --expose-gc; returns its JSON output. */
const child = <T>(script: string, args: readonly string[]): T =>
  JSON.parse(
    execFileSync(process.execPath, ['--expose-gc', '--import', 'tsx', script, ...args], {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    }),
  ) as T

const sample = (mode: string, shape: string): Sample =>
  child('bench/memory-child.ts', [mode, shape, String(MAX_BYTES), String(FACTOR)])

const LARGE = ['large_object_space', 'new_large_object_space', 'code_large_object_space']
const NAMED = ['new_space', 'old_space', 'code_space', ...LARGE]

/** The median of each part over `samples`. */
const parts = (samples: readonly Sample[]): MemoryParts => {
  const of = (part: (s: Sample) => number) => median(samples.map(part))
  const committed = (s: Sample, names: readonly string[]) =>
    names.reduce((sum, name) => sum + (s.spaces[name]?.committed ?? 0), 0)
  const heap = (s: Sample) => committed(s, Object.keys(s.spaces))
  const linux = samples.every((s) => s.resident !== undefined)
  return {
    rss: of((s) => s.rss),
    ...(linux && {
      file: of((s) => s.resident?.file ?? 0),
      anon: of((s) => s.resident?.anon ?? 0),
      outsideHeap: of((s) => (s.resident?.anon ?? 0) - heap(s)),
    }),
    heapCommitted: of(heap),
    newSpace: of((s) => committed(s, ['new_space'])),
    oldSpace: of((s) => committed(s, ['old_space'])),
    oldSpaceUsed: of((s) => s.spaces.old_space?.used ?? 0),
    codeSpace: of((s) => committed(s, ['code_space'])),
    largeObjects: of((s) => committed(s, LARGE)),
    otherSpaces: of((s) => heap(s) - committed(s, NAMED)),
    heapUsed: of((s) => s.heapUsed),
    external: of((s) => s.external),
  }
}

/**
 * Memory held after writing 10 × maxBytes of values through the cache, each measurement in a
 * fresh process after full collections, against two baselines: the same process with an empty
 * cache, and the same process writing the same values through a sink that keeps none of them.
 */
export const memory = async (): Promise<MemoryResult> => {
  const empty: Sample[] = []
  const sink = new Map<string, Sample[]>(SHAPES.map((shape) => [shape, []]))
  const filled = new Map<string, Sample[]>(SHAPES.map((shape) => [shape, []]))
  for (let run = 0; run < RUNS; run++) {
    empty.push(sample('empty', 'objects'))
    for (const shape of SHAPES) {
      sink.get(shape)?.push(sample('sink', shape))
      filled.get(shape)?.push(sample('filled', shape))
    }
  }
  const emptyParts = parts(empty)
  const shapes: Record<string, MemoryShape> = {}
  for (const shape of SHAPES) {
    const filledSamples = filled.get(shape) ?? []
    const filledParts = parts(filledSamples)
    const sinkParts = parts(sink.get(shape) ?? [])
    const rssGrowth = filledParts.rss - emptyParts.rss
    const heapGrowth = filledParts.heapUsed - emptyParts.heapUsed
    const rssGrowthOverSink = filledParts.rss - sinkParts.rss
    const last = filledSamples[filledSamples.length - 1] as Sample
    shapes[shape] = {
      writtenBytes: last.written,
      writes: last.writes,
      held: last.held,
      estimatedBytes: last.estimatedBytes,
      rssGrowth,
      heapGrowth,
      heapTotalGrowth:
        median(filledSamples.map((s) => s.heapTotal)) - median(empty.map((s) => s.heapTotal)),
      rssOverhead: sig(rssGrowth / MAX_BYTES - 1),
      heapOverhead: sig(heapGrowth / MAX_BYTES - 1),
      sinkRssGrowth: sinkParts.rss - emptyParts.rss,
      rssGrowthOverSink,
      rssOverheadOverSink: sig(rssGrowthOverSink / MAX_BYTES - 1),
      sink: sinkParts,
      filled: filledParts,
    }
  }
  return {
    maxBytes: MAX_BYTES,
    factor: FACTOR,
    runs: RUNS,
    emptyRss: emptyParts.rss,
    emptyHeapUsed: emptyParts.heapUsed,
    empty: emptyParts,
    shapes,
    retainedCount: RETAINED_COUNT,
    retained: Object.fromEntries(
      Object.keys(retainedShapes).map((shape) => [
        shape,
        child<RetainedShape>('bench/memory-retained.ts', [String(RETAINED_COUNT), shape]),
      ]),
    ),
  }
}
