import { execFile } from 'node:child_process'
import { mkdir, mkdtemp, readdir, readFile, rm, symlink } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { replaySamBuild, type SamBuildReplay } from '../../infra/sam-build.js'
import {
  functionEnvironment,
  isIntrinsic,
  readTemplate,
  type Template,
} from '../../infra/template.js'

const run = promisify(execFile)
const root = join(import.meta.dirname, '../..')

/** Both values of an `!If`, or the value itself. */
const branches = (value: unknown): unknown[] =>
  isIntrinsic(value, 'If') ? (value.args as unknown[]).slice(1).flatMap(branches) : [value]

/** What a fresh clone holds: the tracked files, with the working tree's contents. */
const trackedFiles = async (dir: string): Promise<string[]> => {
  const { stdout } = await run('git', ['ls-files', '-z', '--', '.'], {
    cwd: dir,
    maxBuffer: 1 << 24,
  })
  return stdout.split('\0').filter((file) => file !== '')
}

let template: Template
let work: string
const builds = new Map<string, SamBuildReplay>()

const functions = () =>
  Object.entries(template.Resources).filter(([, r]) => r.Type === 'AWS::Serverless::Function')

beforeAll(async () => {
  template = await readTemplate(join(root, 'template.yaml'))
  work = await mkdtemp(join(tmpdir(), 'scache-sam-build-'))
  for (const [name, fn] of functions()) {
    const codeUri = join(root, String(fn.Properties?.CodeUri))
    builds.set(
      name,
      await replaySamBuild({
        codeUri,
        files: await trackedFiles(codeUri),
        buildProperties: fn.Metadata?.BuildProperties as Record<string, unknown>,
        work: join(work, name),
        // SAM runs the esbuild it finds on PATH (the scratch copy has no dev dependencies).
        esbuild: join(root, 'node_modules/.bin/esbuild'),
      }),
    )
  }
})

afterAll(async () => {
  if (work !== undefined) await rm(work, { recursive: true, force: true })
})

describe('sam build, replayed: a clean copy, SAM’s npm install, the template’s esbuild flags', () => {
  it('installs only production dependencies, as SAM does', async () => {
    for (const [name, build] of builds) {
      const installed = await readdir(join(build.sourceDir, 'node_modules'))
      expect(installed, name).toContain('@middy')
      // No devDependency reached the copy: no test tools, and no AWS SDK client to bundle.
      expect(installed, name).not.toContain('vitest')
      expect(installed, name).not.toContain('esbuild')
      expect(installed, name).not.toContain('@aws-sdk')
    }
  })

  it('leaves a bundle per handler that loads with only the runtime’s AWS SDK beside it', async () => {
    for (const [name, fn] of functions()) {
      const build = builds.get(name)
      if (build === undefined) throw new Error(`${name} was not built`)
      // Lambda's layout: the code in task/, the runtime's SDK v3 reachable from it and nothing
      // else (no node_modules of the function's own).
      const lambda = join(work, `${name}-lambda`)
      await mkdir(join(lambda, 'node_modules'), { recursive: true })
      await symlink(join(root, 'node_modules/@aws-sdk'), join(lambda, 'node_modules/@aws-sdk'))
      await run('cp', ['-R', build.artifactsDir, join(lambda, 'task')])

      // The environment with the parameters' defaults, as CloudFormation gives it.
      const env: Record<string, string> = {
        PATH: process.env.PATH ?? '',
        AWS_REGION: 'us-east-1',
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
        ...functionEnvironment(template, name),
      }

      const handlers = branches(fn.Properties?.Handler).map(String)
      expect(handlers.length, name).toBeGreaterThan(0)
      for (const handler of handlers) {
        const [file, exported] = handler.split('.') as [string, string]
        const bundle = join(lambda, 'task', `${file}.mjs`)
        const text = await readFile(bundle, 'utf8')
        const imported = new Set(
          [...text.matchAll(/\bfrom\s*"([^"]+)"|\bimport\s*\(\s*"([^"]+)"\)/g)].map(
            ([, a, b]) => a ?? b,
          ),
        )
        for (const specifier of imported)
          expect(specifier, `${handler} imports ${specifier}`).toMatch(/^(node:|@aws-sdk\/)/)
        // The SDK is the runtime's, not bundled: every handler imports the clients it calls (the
        // API the Kinesis client; the relay and the heartbeat, which only write the log table,
        // DynamoDB's).
        expect(
          [...imported].filter((specifier) => /^@aws-sdk\/client-/.test(specifier ?? '')),
          handler,
        ).not.toEqual([])

        // A fresh process per bundle, as a new execution environment loads it.
        const script = `const m = await import(${JSON.stringify(pathToFileURL(bundle).href)}); process.stdout.write(typeof m[${JSON.stringify(exported)}])`
        const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], {
          cwd: join(lambda, 'task'),
          env,
        })
        expect(stdout, handler).toBe('function')
      }
    }
  })
})
