import { execFileSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'
import { build } from 'esbuild'
import { samEsbuildOptions } from '../infra/sam-build.js'
import { isIntrinsic, readTemplate } from '../infra/template.js'
import { median, sig } from './lib/stats.js'

const root = fileURLToPath(new URL('..', import.meta.url))
const RUNS = Number(process.env.BENCH_COLD_RUNS ?? 25)

export interface ColdStartResult {
  /** The users API handler bundled with template.yaml's esbuild settings (all but @aws-sdk/*). */
  readonly bundle: {
    readonly entry: string
    readonly bytes: number
    readonly gzipBytes: number
    /** Bytes of the bundle from each source: scache, lru-cache, @middy/core, @smithy, the example. */
    readonly bytesBy: Record<string, number>
  }
  readonly runs: number
  /** Median time to import each module in a fresh `node` process, ms. */
  readonly importMs: Record<string, number>
  /** dist/index.js against @middy/core alone, ms (target ≤ 10). */
  readonly scacheOverMiddyMs: number
  /** The same, with the AWS SDK (which scache imports) already imported, ms. */
  readonly scacheWithoutSdkOverMiddyMs: number
  /** The users API bundle with the runtime's SDK clients already imported, over Middy, ms. */
  readonly bundleWithoutSdkOverMiddyMs: number
  /** The Kinesis client imported after the DynamoDB client, ms. */
  readonly kinesisAfterDynamoDbMs: number
  /**
   * What a reader needs of the Kinesis client (`KinesisClient`: its configuration, credential
   * chain, endpoint rules and signer; and the four read commands, whose endpoint parameters the
   * lean path takes), tree-shaken into one bundle from the client's ES modules, over the whole
   * package (its CommonJS `main`, which Node resolves), import time in the same run.
   */
  readonly readerSdkOverWholeSdk: number
  /** Bytes of that bundle, minified. */
  readonly readerSdkBundleBytes: number
}

const sourceOf = (path: string): string => {
  if (path.startsWith('src/')) return 'scache (src/)'
  if (path.includes('node_modules/lru-cache/')) return 'lru-cache'
  if (path.includes('node_modules/@middy/')) return '@middy/core'
  if (path.includes('node_modules/@smithy/')) return '@smithy (the HTTP handler)'
  if (path.startsWith('examples/')) return 'the example handler'
  return 'other'
}

/** The modules dist/index.js imports unbundled: the AWS SDK and its HTTP handler. */
const SDK = ['@aws-sdk/client-kinesis', '@smithy/node-http-handler']
/** What the users API bundle imports: the runtime's AWS SDK v3 clients, all else is inside. */
const RUNTIME_SDK = ['@aws-sdk/client-kinesis', '@aws-sdk/client-dynamodb']

/**
 * Milliseconds a fresh node process takes to import `specifier` (measured inside it), after
 * importing `preload` first, untimed.
 */
const importTime = (
  specifier: string,
  env: Record<string, string>,
  preload: readonly string[] = [],
): number => {
  const before = preload.map((module) => `await import(${JSON.stringify(module)});`).join(' ')
  const script = `${before} const started = performance.now(); await import(${JSON.stringify(specifier)}); process.stdout.write(String(performance.now() - started))`
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
    cwd: root,
    env: {
      ...process.env,
      // The example reads its settings at module scope, as in Lambda.
      ...env,
      AWS_REGION: 'us-east-1',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    },
    encoding: 'utf8',
  })
  return Number(out)
}

export const coldStart = async (): Promise<ColdStartResult> => {
  // The function as template.yaml has SAM build it: one setting for users, the template and this.
  const template = await readTemplate(`${root}template.yaml`)
  const fn = template.Resources.UsersFunction
  if (fn === undefined) throw new Error('bench: template.yaml has no UsersFunction')
  const properties = fn.Metadata?.BuildProperties as Record<string, unknown> & {
    EntryPoints: string[]
  }
  const entry = 'examples/users-api/api.ts'
  if (!properties.EntryPoints.includes(entry)) throw new Error(`bench: ${entry} is not built`)
  const environment = fn.Properties?.Environment as { Variables: Record<string, unknown> }
  const variables = environment.Variables
  const env: Record<string, string> = {}
  for (const [name, value] of Object.entries(variables)) {
    // The log mode's variables (`!If [LogMode, …, AWS::NoValue]`) are unset by default.
    if (isIntrinsic(value) && !isIntrinsic(value, 'Ref')) continue
    env[name] = isIntrinsic(value, 'Ref')
      ? String(template.Parameters[value.args as string]?.Default ?? 'bench')
      : String(value)
  }
  delete env.NODE_OPTIONS
  const result = await build({
    ...samEsbuildOptions(properties),
    absWorkingDir: root,
    entryPoints: [entry],
    sourcemap: false,
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

  // Only what the stream reader uses of the Kinesis client, bundled and tree-shaken from the
  // client's ES modules (their imports have no file extensions: Node cannot load them as they are).
  const readerSdk = `${dir}/reader-sdk.mjs`
  const readerBuild = await build({
    absWorkingDir: root,
    stdin: {
      contents: `export { KinesisClient, GetRecordsCommand, GetShardIteratorCommand, ListShardsCommand, DescribeStreamSummaryCommand } from '@aws-sdk/client-kinesis'`,
      resolveDir: root,
      loader: 'js',
    },
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    mainFields: ['module', 'main'],
    // The bundle's CommonJS dependencies call require().
    banner: {
      js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
    },
    write: false,
    logLevel: 'silent',
  })
  const readerOutput = readerBuild.outputFiles[0]
  if (readerOutput === undefined) throw new Error('bench: esbuild produced no reader bundle')
  writeFileSync(readerSdk, readerOutput.contents)

  const targets: Record<string, { specifier: string; preload?: readonly string[] }> = {
    '@middy/core': { specifier: '@middy/core' },
    '@aws-sdk/client-kinesis': { specifier: '@aws-sdk/client-kinesis' },
    "a reader's part of the Kinesis client (KinesisClient and 4 read commands, tree-shaken)": {
      specifier: readerSdk,
    },
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
    'users API bundle': { specifier: bundled },
    'users API bundle, SDK already imported': { specifier: bundled, preload: RUNTIME_SDK },
  }
  const samples = new Map<string, number[]>(Object.keys(targets).map((name) => [name, []]))
  // Interleaved, so that a slow moment of the machine does not fall on one module only.
  for (let run = 0; run < RUNS; run++)
    for (const [name, { specifier, preload }] of Object.entries(targets))
      samples.get(name)?.push(importTime(specifier, env, preload))
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
      of('users API bundle, SDK already imported') - of('@middy/core'),
    ),
    kinesisAfterDynamoDbMs: of(
      '@aws-sdk/client-kinesis, @aws-sdk/client-dynamodb already imported',
    ),
    readerSdkOverWholeSdk: sig(
      of("a reader's part of the Kinesis client (KinesisClient and 4 read commands, tree-shaken)") /
        of('@aws-sdk/client-kinesis'),
    ),
    readerSdkBundleBytes: readerOutput.contents.byteLength,
  }
}
