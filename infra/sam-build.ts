import { execFile } from 'node:child_process'
import { cp, mkdir } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { promisify } from 'node:util'
import type { BuildOptions } from 'esbuild'

// What `sam build` does for a function with `BuildMethod: esbuild`, after aws-lambda-builders'
// NodejsNpmEsbuildWorkflow (aws_lambda_builders/workflows/nodejs_npm_esbuild/) and SAM CLI's
// ResourceMetadataNormalizer: copy CodeUri (less node_modules, .git, .aws-sam) to a scratch
// directory, install the production dependencies there, then run the esbuild binary found on
// PATH with the template's BuildProperties turned into command-line flags.

const run = promisify(execFile)

/** NodejsNpmInstallAction's command line (the lockfile is used; `npm ci` only with UseNpmCi). */
export const SAM_NPM_INSTALL = [
  'install',
  '-q',
  '--no-audit',
  '--no-save',
  '--unsafe-perm',
  '--omit=dev',
] as const

/** SAM CLI turns `EntryPoints` into `entry_points`: a capital starts a new word. */
const snakeCase = (key: string): string => key.replace(/(?<!^)(?=[A-Z])/g, '_').toLowerCase()
const kebabCase = (key: string): string => key.replaceAll('_', '-')

/** Set by aws-lambda-builders itself, whatever the template says. */
const NOT_CONFIGURABLE = new Set(['bundle', 'platform', 'outdir'])
/** Builder options that are not esbuild's. */
const IGNORED = new Set(['use_npm_ci', 'entry_points'])

/**
 * The esbuild arguments EsbuildCommandBuilder builds from a function's BuildProperties: the entry
 * points, its defaults (`--bundle --platform=node --outdir`, es2020, cjs and minify unless set),
 * then each property as `--key=value`, `--key` (true) or `--key:item` per item of a list.
 */
export const samEsbuildArgs = (
  buildProperties: Readonly<Record<string, unknown>>,
  outdir: string,
): string[] => {
  const props = Object.fromEntries(
    Object.entries(buildProperties).map(([key, value]) => [snakeCase(key), value]),
  )
  const entryPoints = props.entry_points
  if (!Array.isArray(entryPoints) || entryPoints.length === 0)
    throw new Error('BuildProperties.EntryPoints must be a non-empty list')
  const args = entryPoints.map(String)
  args.push('--bundle', '--platform=node', `--outdir=${outdir}`)
  if (!('target' in props)) args.push('--target=es2020')
  if (!('format' in props)) args.push('--format=cjs')
  if (!('minify' in props)) args.push('--minify')
  for (const [key, value] of Object.entries(props)) {
    if (NOT_CONFIGURABLE.has(key) || IGNORED.has(key)) continue
    const flag = `--${kebabCase(key)}`
    if (typeof value === 'boolean') {
      if (value) args.push(flag)
    } else if (typeof value === 'string') args.push(`${flag}=${value}`)
    else if (Array.isArray(value)) for (const item of value) args.push(`${flag}:${String(item)}`)
    else throw new Error(`BuildProperties.${key}: not a boolean, string or list`)
  }
  return args
}

/**
 * The same settings as esbuild's JavaScript API takes them, for builds that need a metafile (the
 * benchmark, the in-repository template test). Only the properties the template uses.
 */
export const samEsbuildOptions = (
  buildProperties: Readonly<Record<string, unknown>>,
): BuildOptions => {
  const props = buildProperties as {
    Format?: 'esm' | 'cjs'
    Target?: string
    Minify?: boolean
    Sourcemap?: boolean
    External?: string[]
    MainFields?: string
    OutExtension?: string[]
    Banner?: string[]
  }
  const pairs = (list: string[] | undefined) =>
    Object.fromEntries(
      (list ?? []).map((item) => [
        item.slice(0, item.indexOf('=')),
        item.slice(item.indexOf('=') + 1),
      ]),
    )
  return {
    bundle: true,
    platform: 'node',
    format: props.Format ?? 'cjs',
    target: props.Target ?? 'es2020',
    minify: props.Minify ?? true,
    sourcemap: props.Sourcemap ?? false,
    external: props.External ?? [],
    ...(props.MainFields === undefined ? {} : { mainFields: props.MainFields.split(',') }),
    outExtension: pairs(props.OutExtension),
    banner: pairs(props.Banner),
  }
}

export interface SamBuildReplay {
  /** The scratch copy the dependencies were installed into. */
  readonly sourceDir: string
  /** Where the bundles are, as `sam build` leaves them in .aws-sam/build/<Function>. */
  readonly artifactsDir: string
  /** The esbuild command line that ran. */
  readonly esbuildArgs: readonly string[]
}

/**
 * Replays `sam build` for one function: `files` (relative to `codeUri`) are copied to
 * `work/source`, the production dependencies installed with SAM's npm command line, and the
 * bundles written to `work/artifacts` by the `esbuild` binary at `esbuild`.
 */
export const replaySamBuild = async (options: {
  readonly codeUri: string
  readonly files: readonly string[]
  readonly buildProperties: Readonly<Record<string, unknown>>
  readonly work: string
  readonly esbuild: string
  readonly npm?: string
}): Promise<SamBuildReplay> => {
  const sourceDir = join(options.work, 'source')
  const artifactsDir = join(options.work, 'artifacts')
  await mkdir(artifactsDir, { recursive: true })
  for (const file of options.files) {
    await mkdir(dirname(join(sourceDir, file)), { recursive: true })
    await cp(join(options.codeUri, file), join(sourceDir, file), { verbatimSymlinks: true })
  }
  await run(options.npm ?? 'npm', [...SAM_NPM_INSTALL], {
    cwd: sourceDir,
    env: { ...process.env, npm_config_update_notifier: 'false' },
    maxBuffer: 16 << 20,
  })
  const esbuildArgs = samEsbuildArgs(options.buildProperties, artifactsDir)
  await run(options.esbuild, esbuildArgs, { cwd: sourceDir, maxBuffer: 16 << 20 })
  return { sourceDir, artifactsDir, esbuildArgs }
}
