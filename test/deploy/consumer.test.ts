import { type ChildProcessWithoutNullStreams, execFile, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { samEsbuildArgs } from '../../infra/sam-build.js'
import { readTemplate } from '../../infra/template.js'
import { useKinesis } from '../support/kinesis.js'

// The packed package as a user gets it: `npm pack`, a fresh project per Middy major installing
// the tarball from disk and everything else from the registry, strict TypeScript that checks the
// libraries too, the handler bundled with the template's esbuild settings, and two containers
// (two processes) sharing a kinesalite stream.

const run = promisify(execFile)
const root = join(import.meta.dirname, '../..')
const tsc = join(root, 'node_modules/.bin/tsc')
const esbuild = join(root, 'node_modules/.bin/esbuild')
const kinesis = useKinesis()

let work: string
let tarball: string
let packed: string

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'scache-consumer-'))
  // npm run test:consumer builds first; the tarball holds what `files` lists.
  const { stdout } = await run(
    'npm',
    ['pack', '--ignore-scripts', '--json', '--pack-destination', work],
    {
      cwd: root,
      maxBuffer: 16 << 20,
    },
  )
  const [info] = JSON.parse(stdout) as [{ filename: string }]
  tarball = join(work, info.filename)
  await run('tar', ['xzf', tarball, '-C', work])
  packed = join(work, 'package')
})

afterAll(async () => {
  if (work !== undefined) await rm(work, { recursive: true, force: true })
})

describe('the tarball', () => {
  it('holds both builds with their types, and every file the README links to', async () => {
    for (const file of [
      'dist/index.js',
      'dist/index.d.ts',
      'dist/cjs/index.js',
      'dist/cjs/index.d.ts',
      'dist/cjs/package.json',
      'dist/cli/main.js',
      'LICENSE',
      'CHANGELOG.md',
    ])
      expect(existsSync(join(packed, file)), file).toBe(true)
    const readme = await readFile(join(packed, 'README.md'), 'utf8')
    const links = [...readme.matchAll(/\]\(([^)\s]+)\)/g)]
      .map(([, target]) => target as string)
      .filter((target) => !/^(https?:|mailto:|#)/.test(target))
      .map((target) => decodeURIComponent(target.split('#')[0] as string))
    expect(links.length).toBeGreaterThan(0)
    const missing = [...new Set(links)].filter((target) => !existsSync(join(packed, target)))
    expect(missing, 'README links to files the tarball does not hold').toEqual([])
  })
})

/** The handler a user writes: reads a user through the cache, writes and invalidates. */
const HANDLER = `import { readFile, writeFile } from 'node:fs/promises'
import middy from '@middy/core'
import type { Context } from 'aws-lambda'
import { scache, type WithCache } from 'scache'

interface Event {
  readonly op: 'get' | 'put'
  readonly id: string
  readonly name?: string
}

// The stream comes from SCACHE_STREAM_NAME; the database is a directory both containers share.
const cache = scache({ ttl: { minMs: 60_000, maxMs: 60_000 }, pollIntervalMs: 0 })
const row = (id: string): string => \`\${process.env.USERS_DIR}/\${id}.json\`

export const handler = middy(async (event: Event, context: Context & WithCache) => {
  const key = \`users:\${event.id}\`
  if (event.op === 'put') {
    await writeFile(row(event.id), JSON.stringify(event.name ?? ''))
    await context.cache.invalidate(key)
    return event.name
  }
  return context.cache.getOrLoad(key, async () => JSON.parse(await readFile(row(event.id), 'utf8')) as string)
}).use(cache)

// How Lambda calls it, and Middy's other style: both need the middleware typed as Middy's own.
export const invoke = (context: Context & WithCache) => handler({ op: 'get', id: '1' }, context)
export const viaHandler = middy<Event>()
  .use(cache)
  .handler(async (event, context) => context.cache.get(\`users:\${event.id}\`) ?? null)
`

/** A CommonJS module of the same project: the core without Middy, types from the require build. */
const CJS_CONSUMER = `import { createScache, type InvocationLog, ScacheOptionsError } from 'scache'

export const instance = createScache({ stream: { name: 'users' }, log: false })
export const isOptionsError = (error: unknown): error is ScacheOptionsError =>
  error instanceof ScacheOptionsError
export type Line = InvocationLog
`

/** Lambda's loop, reduced: one event per stdin line, one RESULT line per invocation. */
const CONTAINER = `import { createInterface } from 'node:readline'
const { handler } = await import(process.argv[2])
let requests = 0
for await (const line of createInterface({ input: process.stdin })) {
  const deadline = Date.now() + 10_000
  const context = {
    awsRequestId: 'request-' + ++requests, functionName: 'users', functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:users',
    memoryLimitInMB: '512', logGroupName: '/aws/lambda/users', logStreamName: 'local',
    callbackWaitsForEmptyEventLoop: true, getRemainingTimeInMillis: () => deadline - Date.now(),
    done() {}, fail() {}, succeed() {},
  }
  try {
    process.stdout.write('RESULT ' + JSON.stringify({ value: await handler(JSON.parse(line), context) }) + '\\n')
  } catch (error) {
    process.stdout.write('RESULT ' + JSON.stringify({ error: String(error) }) + '\\n')
  }
}
`

interface Container {
  invoke(event: object): Promise<unknown>
  /** The log lines scache wrote to stdout, parsed. */
  readonly logs: Record<string, unknown>[]
  close(): void
}

const startContainer = (bundle: string, cwd: string, env: NodeJS.ProcessEnv): Container => {
  const child: ChildProcessWithoutNullStreams = spawn(
    process.execPath,
    [join(cwd, 'container.mjs'), bundle],
    { cwd, env },
  )
  const logs: Record<string, unknown>[] = []
  const waiting: ((value: unknown) => void)[] = []
  let stderr = ''
  child.stderr.on('data', (chunk) => {
    stderr += String(chunk)
  })
  createInterface({ input: child.stdout }).on('line', (line) => {
    if (line.startsWith('RESULT ')) {
      const result = JSON.parse(line.slice(7)) as { value?: unknown; error?: string }
      waiting.shift()?.(result.error === undefined ? result.value : new Error(result.error))
    } else logs.push(JSON.parse(line) as Record<string, unknown>)
  })
  return {
    logs,
    invoke: (event) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`no answer in 20 s; stderr: ${stderr}`)),
          20_000,
        )
        waiting.push((value) => {
          clearTimeout(timer)
          if (value instanceof Error) reject(value)
          else resolve(value)
        })
        child.stdin.write(`${JSON.stringify(event)}\n`)
      }),
    close: () => child.kill(),
  }
}

const variants = [
  { middy: '6', durable: false, run: true },
  { middy: '7', durable: false, run: true },
  { middy: '7', durable: true, run: false },
] as const

describe.each(variants)('a fresh project with Middy $middy (durable SDK: $durable)', (variant) => {
  let project: string

  beforeAll(async () => {
    project = join(work, `middy${variant.middy}${variant.durable ? '-durable' : ''}`)
    await mkdir(project, { recursive: true })
    await writeFile(
      join(project, 'package.json'),
      JSON.stringify({ name: 'consumer', private: true, type: 'module' }),
    )
    await writeFile(join(project, 'handler.ts'), HANDLER)
    await writeFile(join(project, 'consumer.cts'), CJS_CONSUMER)
    await writeFile(join(project, 'container.mjs'), CONTAINER)
    await writeFile(
      join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          lib: ['ES2023'],
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          types: ['node'],
          strict: true,
          noUncheckedIndexedAccess: true,
          skipLibCheck: false,
          noEmit: true,
        },
        files: ['handler.ts', 'consumer.cts'],
      }),
    )
    // The peers @aws-sdk/client-kinesis and @smithy/node-http-handler come with the tarball.
    await run(
      'npm',
      [
        'install',
        '--no-audit',
        '--no-fund',
        tarball,
        `@middy/core@^${variant.middy}`,
        '@types/aws-lambda',
        '@types/node@^22',
        ...(variant.durable ? ['@aws/durable-execution-sdk-js@^2'] : []),
      ],
      { cwd: project, maxBuffer: 16 << 20 },
    )
  })

  it('compiles a handler and a CommonJS module with strict TypeScript, libraries checked', async () => {
    const compiled = await run(tsc, ['-p', project], { cwd: project }).then(
      () => '',
      (error: { stdout: string }) => error.stdout,
    )
    const errors = compiled.split('\n').filter((line) => line.includes('error TS'))
    if (variant.middy === '7' && !variant.durable) {
      // Middy 7's own declarations import its optional peer; without it, only they fail to check.
      for (const error of errors)
        expect(error).toMatch(/^node_modules\/@middy\/core\/index\.d\.ts.*TS2307/)
    } else expect(errors).toEqual([])
  })

  it('loads as ES module and as CommonJS', async () => {
    const env = { ...process.env, AWS_REGION: 'us-east-1' }
    const esm = await run(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        "const s = await import('scache'); process.stdout.write(typeof s.scache)",
      ],
      { cwd: project, env },
    )
    expect(esm.stdout).toBe('function')
    const cjs = await run(
      process.execPath,
      [
        '--input-type=commonjs',
        '-e',
        "const s = require('scache'); const i = s.createScache({ stream: { name: 'x' }, log: false }); process.stdout.write(String(i instanceof s.Scache) + ' ' + require.resolve('scache'))",
      ],
      { cwd: project, env },
    )
    expect(cjs.stdout).toMatch(/^true .*node_modules\/scache\/dist\/cjs\/index\.js$/)
  })

  it.runIf(variant.run)(
    'bundles as sam build does; two containers share an invalidation through the stream',
    async () => {
      const template = await readTemplate(join(root, 'template.yaml'))
      const properties = {
        ...(template.Resources.UsersFunction?.Metadata?.BuildProperties as object),
        EntryPoints: ['handler.ts'],
      }
      const lambda = join(project, 'lambda')
      await run(esbuild, samEsbuildArgs(properties, join(lambda, 'task')), { cwd: project })
      // Beside the bundle, only what the Lambda runtime has: the AWS SDK v3.
      await mkdir(join(lambda, 'node_modules'))
      await symlink(join(project, 'node_modules/@aws-sdk'), join(lambda, 'node_modules/@aws-sdk'))
      await writeFile(join(lambda, 'task/container.mjs'), CONTAINER)

      const stream = await kinesis.createStream(1)
      const users = join(project, 'users')
      await mkdir(users)
      await writeFile(join(users, '1.json'), JSON.stringify('Ada'))
      const env = {
        PATH: process.env.PATH,
        AWS_REGION: 'us-east-1',
        AWS_ACCESS_KEY_ID: 'local',
        AWS_SECRET_ACCESS_KEY: 'local',
        AWS_ENDPOINT_URL_KINESIS: kinesis.endpoint,
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
        SCACHE_STREAM_NAME: stream,
        USERS_DIR: users,
      }
      const task = join(lambda, 'task')
      const [one, two] = [
        startContainer('./handler.mjs', task, env),
        startContainer('./handler.mjs', task, env),
      ]
      try {
        expect(await one.invoke({ op: 'get', id: '1' })).toBe('Ada')
        expect(await two.invoke({ op: 'get', id: '1' })).toBe('Ada')
        expect(await two.invoke({ op: 'get', id: '1' })).toBe('Ada')
        expect(two.logs.at(-1)).toMatchObject({ message: 'scache', hits: 1, misses: 0 })

        expect(await one.invoke({ op: 'put', id: '1', name: 'Grace' })).toBe('Grace')
        let seen: unknown
        for (let attempt = 0; attempt < 50 && seen !== 'Grace'; attempt++) {
          seen = await two.invoke({ op: 'get', id: '1' })
          if (seen !== 'Grace') await new Promise((resolve) => setTimeout(resolve, 100))
        }
        expect(seen).toBe('Grace')
        expect(two.logs.some((line) => line.evicted === 1 && line.records === 1)).toBe(true)
      } finally {
        one.close()
        two.close()
      }
    },
  )
})
