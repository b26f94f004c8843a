import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { type Contender, contenders, GETS_PER_INVOCATION, KEYS } from './hit-path-child.js'
import { median, sig } from './lib/stats.js'

const root = fileURLToPath(new URL('..', import.meta.url))
/** Processes per contender, interleaved; each figure is the median of its processes. */
const ROUNDS = 9

export interface HitPathResult {
  readonly keys: number
  /** Hits per invocation: a fresh request cache from `begin()` each time, as Lambda calls it. */
  readonly getsPerInvocation: number
  readonly rounds: number
  /** Median ns per hit, by contender, each measured alone in its process. */
  readonly nsPerHit: Record<string, number>
  /** `context.cache.get` (fresh per invocation) against raw lru-cache `get` (target ≤ 1.3). */
  readonly ratioToLruCache: number
  readonly ratioToMap: number
  /**
   * lru-cache `get` followed by one read of the entry it returns, over lru-cache `get` alone: the
   * least any cache costs that reads its entries, with their own expiry, through lru-cache's `get`.
   */
  readonly entryReadToLruCache?: number
}

const runContender = (contender: Contender): number => {
  const out = execFileSync(
    process.execPath,
    ['--import', 'tsx', fileURLToPath(new URL('./hit-path-child.ts', import.meta.url)), contender],
    {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    },
  )
  return Number(out.trim())
}

export const hitPath = async (): Promise<HitPathResult> => {
  const samples = new Map<string, number[]>(contenders.map((name) => [name, []]))
  for (let round = 0; round < ROUNDS; round++)
    // Rotated, so that no contender always follows the same one.
    for (let i = 0; i < contenders.length; i++) {
      const contender = contenders[(i + round) % contenders.length] as Contender
      samples.get(contender)?.push(runContender(contender))
    }
  const nsPerHit: Record<string, number> = {}
  for (const [name, values] of samples) nsPerHit[name] = sig(median(values))
  const of = (name: Contender): number => median(samples.get(name) ?? [])
  return {
    keys: KEYS,
    getsPerInvocation: GETS_PER_INVOCATION,
    rounds: ROUNDS,
    nsPerHit,
    ratioToLruCache: sig(of('context.cache.get') / of('lru-cache get')),
    ratioToMap: sig(of('context.cache.get') / of('Map.get')),
    entryReadToLruCache: sig(of('lru-cache get + entry read') / of('lru-cache get')),
  }
}
