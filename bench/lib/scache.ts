import { existsSync } from 'node:fs'
import type * as ScacheModule from '../../src/index.js'

export type ScacheLib = typeof ScacheModule

/**
 * The built package (dist/, as `npm run build` emits it), which is what a function runs. The
 * benchmarks themselves run under tsx, whose esbuild transform keeps function names by wrapping
 * every closure it creates: measured through src/, scache's per-invocation closures would cost
 * several times what they cost in the package.
 */
export const loadScache = async (): Promise<ScacheLib> => {
  const url = new URL('../../dist/index.js', import.meta.url)
  if (!existsSync(url)) throw new Error('bench: dist/ is missing; run `npm run build` first')
  return (await import(url.href)) as ScacheLib
}
