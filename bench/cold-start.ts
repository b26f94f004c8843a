import { execFileSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'
import { build } from 'esbuild'
import { median, sig } from './lib/stats.js'

const root = fileURLToPath(new URL('..', import.meta.url))
const RUNS = 25

export interface ColdStartResult {
  /** The example handler bundled as SAM's esbuild builder would, the AWS SDK left external. */
  readonly bundle: {
    readonly entry: string
    readonly bytes: number
    readonly gzipBytes: number
    /** Bytes of the bundle from each source: scache, lru-cache, @middy/core, the example. */
    readonly bytesBy: Record<string, number>
  }
  readonly runs: number
  /** Median time to import each module in a fresh `node` process, ms. */
  readonly importMs: Record<string, number>
  /** dist/index.js against @middy/core alone, ms (target ≤ 10). */
  readonly scacheOverMiddyMs: number
  /** The same, with the AWS SDK (which scache imports) already imported, ms. */
  readonly scacheWithoutSdkOverMiddyMs: number
  /** The example's bundle (scache, lru-cache, Middy) with the SDK already imported, over Middy, ms. */
  readonly bundleWithoutSdkOverMiddyMs: number
  /** The Kinesis client imported after the DynamoDB client, ms. */
  readonly kinesisAfterDynamoDbMs: number
}

const sourceOf = (path: string): string => {
  if (path.startsWith('src/')) return 'scache (src/)'
  if (path.includes('node_modules/lru-cache/')) return 'lru-cache'
  if (path.includes('node_modules/@middy/')) return '@middy/core'
  if (path.startsWith('examples/')) return 'the example handler'
  return 'other'
}

/** The AWS SDK modules scache imports, which the Lambda runtime provides. */
const SDK = ['@aws-sdk/client-kinesis', '@smithy/node-http-handler']

/**
 * Milliseconds a fresh node process takes to import `specifier` (measured inside it), after
 * importing `preload` first, untimed.
 */
const importTime = (specifier: string, preload: readonly string[] = []): number => {
  const before = preload.map((module) => `await import(${JSON.stringify(module)});`).join(' ')
  const script = `${before} const started = performance.now(); await import(${JSON.stringify(specifier)}); process.stdout.write(String(performance.now() - started))`
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
    cwd: root,
    env: {
      ...process.env,
      // The example reads its stream name at module scope, as in Lambda.
      SCACHE_STREAM_NAME: 'bench',
      AWS_REGION: 'us-east-1',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    },
    encoding: 'utf8',
  })
  return Number(out)
}

export const coldStart = async (): Promise<ColdStartResult> => {
  const entry = 'examples/quickstart/handler.ts'
  const result = await build({
    absWorkingDir: root,
    entryPoints: [entry],
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    // The Lambda Node.js runtime provides the AWS SDK v3.
    external: ['@aws-sdk/*', '@smithy/*'],
    metafile: true,
    write: false,
    logLevel: 'silent',
  })
  const output = result.outputFiles[0]
  if (output === undefined) throw new Error('bench: esbuild produced no output')
  const bytesBy: Record<string, number> = {}
  for (const out of Object.values(result.metafile.outputs))
    for (const [path, { bytesInOutput }] of Object.entries(out.inputs)) {
      const source = sourceOf(path)
      bytesBy[source] = (bytesBy[source] ?? 0) + bytesInOutput
    }
  // Written beside node_modules, so that its external imports resolve as in a deployed function.
  const dir = `${root}bench/.cold-start`
  mkdirSync(dir, { recursive: true })
  const bundled = `${dir}/handler.mjs`
  writeFileSync(bundled, output.contents)

  const targets: Record<string, { specifier: string; preload?: readonly string[] }> = {
    '@middy/core': { specifier: '@middy/core' },
    '@aws-sdk/client-kinesis': { specifier: '@aws-sdk/client-kinesis' },
    // What the Kinesis client adds to a function that already uses another SDK client (the
    // users API example reads DynamoDB): the SDK's shared core is loaded once.
    '@aws-sdk/client-kinesis, @aws-sdk/client-dynamodb already imported': {
      specifier: '@aws-sdk/client-kinesis',
      preload: ['@aws-sdk/client-dynamodb'],
    },
    'scache (dist/index.js)': { specifier: `${root}dist/index.js` },
    'scache (dist/index.js), SDK already imported': {
      specifier: `${root}dist/index.js`,
      preload: SDK,
    },
    'example handler bundle': { specifier: bundled },
    'example handler bundle, SDK already imported': { specifier: bundled, preload: SDK },
  }
  const samples = new Map<string, number[]>(Object.keys(targets).map((name) => [name, []]))
  // Interleaved, so that a slow moment of the machine does not fall on one module only.
  for (let run = 0; run < RUNS; run++)
    for (const [name, { specifier, preload }] of Object.entries(targets))
      samples.get(name)?.push(importTime(specifier, preload))
  const importMs: Record<string, number> = {}
  for (const [name, times] of samples) importMs[name] = sig(median(times))
  const of = (name: string) => importMs[name] ?? Number.NaN
  return {
    bundle: {
      entry,
      bytes: output.contents.byteLength,
      gzipBytes: gzipSync(output.contents).byteLength,
      bytesBy,
    },
    runs: RUNS,
    importMs,
    scacheOverMiddyMs: sig(of('scache (dist/index.js)') - of('@middy/core')),
    scacheWithoutSdkOverMiddyMs: sig(
      of('scache (dist/index.js), SDK already imported') - of('@middy/core'),
    ),
    bundleWithoutSdkOverMiddyMs: sig(
      of('example handler bundle, SDK already imported') - of('@middy/core'),
    ),
    kinesisAfterDynamoDbMs: of(
      '@aws-sdk/client-kinesis, @aws-sdk/client-dynamodb already imported',
    ),
  }
}
