import type { Results } from './index.js'

/**
 * The figures the project's targets are stated in, each a ratio (or a difference) against a
 * baseline measured in the same run of its section, kept in bench/results.json as `headlines`.
 */
export interface Headlines {
  /** `context.cache.get`, a fresh request cache per invocation, over raw lru-cache `get` (≤ 1.3). */
  readonly hitFreshPerInvocationVsLru?: number
  /** CPU of an empty poll with 100k entries over one with 1 entry (≤ 1.5). */
  readonly emptyPollCost100kOver1Entry?: number
  /** CPU µs a warm invocation with the default log line adds to Middy alone (≤ 3). */
  readonly warmInvocationUsOverMiddy?: number
  /** Share of strict-mode reads served from the cache with 20% of GetRecords failing (≥ 0.8). */
  readonly strictHitRatioAt20pctFaults?: number
  /** One prefix invalidation evicting 10 entries at 1M entries over the same at 1k (near 1). */
  readonly prefixInvalidation1MOver1k?: number
  /** Client CPU ms per GetRecords on the read path scache uses by default (the lean one). */
  readonly pollClientCpuMsPerShard?: number
  /** The lean read path's client CPU per GetRecords over the SDK's. */
  readonly pollClientCpuLeanOverSdk?: number
  /** Importing what a reader needs of the Kinesis client (tree-shaken) over the whole client. */
  readonly coldStartImportReaderSdkOverWholeSdk?: number
  /** And any other section's own (the fleet's log mode). */
  readonly [name: string]: number | undefined
}

/** The headlines from the sections in `results`; a section not in them keeps its last ones. */
export const headlines = (results: Results): Headlines => {
  const s = results.sections
  const found: Record<string, number | undefined> = {
    ...s.fleet?.result.log?.headlines,
    hitFreshPerInvocationVsLru: s.hitPath?.result.ratioToLruCache,
    emptyPollCost100kOver1Entry: s.growth?.result.emptyPollCost100kOver1Entry,
    warmInvocationUsOverMiddy: s.middleware?.result.warmInvocationUsOverMiddy,
    strictHitRatioAt20pctFaults: s.goodput?.result.strictHitRatioAt20pctFaults,
    prefixInvalidation1MOver1k: s.invalidation?.result.prefixInvalidation1MOver1k,
    pollClientCpuMsPerShard: s.readPath?.result.pollClientCpuMsPerShard,
    pollClientCpuLeanOverSdk: s.readPath?.result.leanOverSdk,
    coldStartImportReaderSdkOverWholeSdk: s.coldStart?.result.readerSdkOverWholeSdk,
  }
  const merged: Record<string, number | undefined> = { ...results.headlines }
  for (const [name, value] of Object.entries(found)) if (value !== undefined) merged[name] = value
  return merged
}

/** Each headline's target, for the report's table. */
const targets: Record<string, { readonly text: string; readonly met: (value: number) => boolean }> =
  {
    hitFreshPerInvocationVsLru: { text: '≤ 1.3', met: (v) => v <= 1.3 },
    emptyPollCost100kOver1Entry: { text: '≤ 1.5', met: (v) => v <= 1.5 },
    warmInvocationUsOverMiddy: { text: '≤ 3', met: (v) => v <= 3 },
    strictHitRatioAt20pctFaults: { text: '≥ 0.8, 0 stale', met: (v) => v >= 0.8 },
    prefixInvalidation1MOver1k: { text: '≤ 1.5', met: (v) => v <= 1.5 },
    pollClientCpuLeanOverSdk: { text: '≤ 0.5', met: (v) => v <= 0.5 },
  }

/** The headlines' rows for the report: name, value, target, met. */
export const headlineRows = (h: Headlines): string[][] =>
  Object.entries(h).flatMap(([name, value]) => {
    if (value === undefined) return []
    const target = targets[name]
    return [
      [
        `\`${name}\``,
        String(value),
        target?.text ?? '(reported)',
        target === undefined ? '' : target.met(value) ? 'met' : '**missed**',
      ],
    ]
  })
