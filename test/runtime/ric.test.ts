import { randomBytes, randomUUID } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { APIGatewayProxyEventV2 } from 'aws-lambda'
import { build } from 'esbuild'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startLocalDynamoDb } from '../../infra/local/dynamodb.js'
import { startLocalKinesis } from '../../infra/local/kinesis.js'
import { type CapturedLine, RicEnvironment } from '../../infra/local/runtime-api.js'
import { evaluate, functionEnvironment, readTemplate, type Template } from '../../infra/template.js'
import type { InvocationLog } from '../../src/index.js'
import { runCli } from '../support/cli.js'

const root = fileURLToPath(new URL('../../', import.meta.url))
const ric =
  process.env.SCACHE_RIC ?? join(root, '.ci/tools/ric/node_modules/aws-lambda-ric/index.mjs')

type Mode = 'publisher' | 'table-stream'
let template: Template
let out: string

/** The users function's bundles, built with the template's esbuild properties (as sam build does). */
const bundle = async (): Promise<void> => {
  const fn = template.Resources.UsersFunction
  const properties = fn?.Metadata?.BuildProperties as {
    EntryPoints: string[]
    External: string[]
    Format: 'esm'
    Target: string
    Minify: boolean
    Sourcemap?: boolean
    OutExtension: string[]
    Banner?: string[]
    MainFields?: string
  }
  const codeUri = join(root, String(fn?.Properties?.CodeUri))
  await build({
    entryPoints: properties.EntryPoints.map((entry) => join(codeUri, entry)),
    bundle: true,
    platform: 'node',
    format: properties.Format,
    target: properties.Target,
    minify: properties.Minify,
    sourcemap: properties.Sourcemap ?? false,
    external: properties.External,
    outdir: out,
    outExtension: Object.fromEntries(properties.OutExtension.map((e) => e.split('='))),
    banner: Object.fromEntries(
      (properties.Banner ?? []).map((b) => [
        b.slice(0, b.indexOf('=')),
        b.slice(b.indexOf('=') + 1),
      ]),
    ),
    ...(properties.MainFields === undefined
      ? {}
      : { mainFields: properties.MainFields.split(',') }),
    tsconfig: join(root, 'tsconfig.json'),
    logLevel: 'silent',
  })
}

/** The handler and variables the template gives the function in `mode`, parameters at their defaults. */
const functionOf = (mode: Mode, names: { stream: string; table: string }) => {
  const resolution = {
    parameters: { Invalidation: mode },
    resources: { InvalidationStream: names.stream, UsersTable: names.table },
  }
  return {
    handler: String(
      evaluate(template, template.Resources.UsersFunction?.Properties?.Handler, resolution),
    ),
    variables: functionEnvironment(template, 'UsersFunction', resolution),
  }
}

/** An HTTP API (payload 2.0) event, as API Gateway sends it. */
const httpEvent = (method: string, id: string, body?: unknown): APIGatewayProxyEventV2 => {
  const now = Date.now()
  return {
    version: '2.0',
    routeKey: `${method} /users/{id}`,
    rawPath: `/users/${id}`,
    rawQueryString: '',
    headers: { 'content-type': 'application/json' },
    pathParameters: { id },
    requestContext: {
      accountId: '000000000000',
      apiId: 'local',
      domainName: 'local',
      domainPrefix: 'local',
      http: {
        method,
        path: `/users/${id}`,
        protocol: 'HTTP/1.1',
        sourceIp: '127.0.0.1',
        userAgent: 'test',
      },
      requestId: randomUUID(),
      routeKey: `${method} /users/{id}`,
      stage: '$default',
      time: new Date(now).toUTCString(),
      timeEpoch: now,
    },
    isBase64Encoded: false,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

beforeAll(async () => {
  expect(
    existsSync(ric),
    `aws-lambda-ric not found at ${ric}: run npm run test:runtime (test/runtime/run.sh)`,
  ).toBe(true)
  template = await readTemplate(join(root, 'template.yaml'))
  // Inside the repository: the bundles import the AWS SDK, which the runtime provides, from here.
  out = await mkdtemp(join(root, 'node_modules', '.scache-runtime-'))
  await bundle()
})
afterAll(async () => {
  if (out !== undefined) await rm(out, { recursive: true, force: true })
})

describe.each<Mode>(['publisher', 'table-stream'])(
  'the users API under aws-lambda-ric, two frozen environments (%s)',
  (mode) => {
    it('hits, an invalidation crossing from one environment to the other, the log as Lambda captures it', async () => {
      const kinesis = await startLocalKinesis()
      const dynamodb = await startLocalDynamoDb()
      const environments: RicEnvironment[] = []
      try {
        const names = { stream: `invalidations-${mode}`, table: `users-${mode}` }
        await kinesis.createStream(names.stream, 1)
        await dynamodb.createTable(names.table)
        await dynamodb.putItem(names.table, { id: '1', name: 'Ada' })
        if (mode === 'table-stream')
          dynamodb.streamChanges({ table: names.table, stream: names.stream, kinesis })

        const fn = functionOf(mode, names)
        const pollIntervalMs = Number(fn.variables.POLL_INTERVAL_MS)
        const functionName = `users-${mode}`
        const day = new Date().toISOString().slice(0, 10).replaceAll('-', '/')
        for (let i = 0; i < 2; i++) {
          environments.push(
            await RicEnvironment.start({
              stream: `${day}/[$LATEST]${randomBytes(16).toString('hex')}`,
              node: process.execPath,
              ric,
              taskRoot: out,
              handler: fn.handler,
              functionName,
              timeoutMs: Number(template.Parameters.Timeout?.Default) * 1_000,
              environment: {
                ...fn.variables,
                AWS_REGION: kinesis.config.region,
                AWS_ACCESS_KEY_ID: kinesis.config.credentials.accessKeyId,
                AWS_SECRET_ACCESS_KEY: kinesis.config.credentials.secretAccessKey,
                AWS_ENDPOINT_URL_KINESIS: kinesis.config.endpoint,
                AWS_ENDPOINT_URL_DYNAMODB: dynamodb.endpoint,
              },
            }),
          )
        }
        const [a, b] = environments as [RicEnvironment, RicEnvironment]
        /** One invocation, then the environment must be frozen again; its scache line. */
        const call = async (environment: RicEnvironment, event: unknown) => {
          const result = await environment.invoke(event)
          await environment.idle()
          expect(environment.frozen, 'frozen between invocations').toBe(true)
          const lines = environment.lines
            .filter((line) => line.text.startsWith('{'))
            .map((line) => JSON.parse(line.text) as Record<string, unknown>)
            .filter((line) => line.message === 'scache' && line.requestId === result.requestId)
          expect(lines, `one scache line for ${result.requestId}`).toHaveLength(1)
          return { result, line: lines[0] as unknown as InvocationLog }
        }
        const get = async (environment: RicEnvironment) => {
          const { result, line } = await call(environment, httpEvent('GET', '1'))
          expect(result.ok).toBe(true)
          const response = (result as { result: { statusCode: number; body: string } }).result
          expect(response.statusCode).toBe(200)
          return { name: (JSON.parse(response.body) as { name: string }).name, line }
        }

        expect(a.frozen && b.frozen, 'frozen after init').toBe(true)
        expect(a.pid).not.toBe(b.pid)

        // Each environment loads the user once, then serves it from its own cache.
        for (const environment of [a, b]) {
          const first = await get(environment)
          expect(first).toMatchObject({ name: 'Ada', line: { misses: 1, hits: 0 } })
          const second = await get(environment)
          expect(second).toMatchObject({ name: 'Ada', line: { hits: 1, misses: 0 } })
          expect(second.line.savedMs).toBeGreaterThan(0)
        }

        // Two events at once for one environment: it gets them one after the other.
        const both = await Promise.all([
          a.invoke(httpEvent('GET', '1')),
          a.invoke(httpEvent('GET', '1')),
        ])
        expect(both.map((r) => r.ok)).toEqual([true, true])
        await a.idle()
        const starts = a.lines.filter((l) => /^(START|END) RequestId/.test(l.text)).slice(-4)
        expect(starts.map((l) => l.text.split(' ')[0])).toEqual(['START', 'END', 'START', 'END'])

        // A write through A; B stays frozen meanwhile, as an idle Lambda environment does.
        const put = await call(a, httpEvent('PUT', '1', { name: 'Ada Lovelace' }))
        expect(put.result).toMatchObject({ ok: true, result: { statusCode: 200 } })
        expect(put.line.evicted).toBe(1)
        expect(b.frozen).toBe(true)
        expect((await get(a)).name).toBe('Ada Lovelace')

        // B thaws for its next request: once the poll interval has passed it reads the stream
        // and evicts. The change may take the stream's visibility delay to become readable.
        await sleep(pollIntervalMs)
        const deadline = Date.now() + pollIntervalMs + 5_000
        let seen = await get(b)
        const lines = [seen.line]
        while (seen.name !== 'Ada Lovelace' && Date.now() < deadline) {
          await sleep(200)
          seen = await get(b)
          lines.push(seen.line)
        }
        expect(seen.name).toBe('Ada Lovelace')
        const evicting = lines.find((line) => line.evicted > 0)
        expect(evicting).toMatchObject({ polled: true, evicted: 1 })
        expect(evicting?.records).toBeGreaterThanOrEqual(1)
        expect(seen.line.misses).toBe(1)

        // A failing invocation: the runtime client reports it and logs it in Lambda's text format.
        const failed = await b.invoke({ pathParameters: { id: '1' } })
        await b.idle()
        expect(failed).toMatchObject({ ok: false, error: { errorType: 'TypeError' } })

        // The log, as Lambda captures stdout and stderr: scache's line is bare JSON (so
        // CloudWatch extracts its EMF metrics), the client's own lines carry time, request id
        // and level; the platform frames each invocation.
        for (const environment of [a, b]) {
          const text = environment.lines.map((line) => line.text)
          for (const line of text.filter((t) => t.startsWith('{"'))) {
            const json = JSON.parse(line) as Record<string, unknown>
            if (json.message !== 'scache') continue
            expect(json).toMatchObject({
              FunctionName: functionName,
              _aws: {
                CloudWatchMetrics: [{ Namespace: 'scache', Dimensions: [['FunctionName']] }],
              },
            })
          }
          const starts = text.filter((t) => t.startsWith('START RequestId: '))
          expect(text.filter((t) => t.startsWith('REPORT RequestId: '))).toHaveLength(starts.length)
        }
        const errorLine = b.lines.find((line) => line.text.includes('Invoke Error'))
        expect(errorLine?.text).toMatch(
          new RegExp(
            `^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}\\.\\d{3}Z\\t${failed.requestId}\\tERROR\\tInvoke Error`,
          ),
        )
        const failedLine = b.lines
          .filter((line) => line.text.startsWith('{'))
          .map((line) => JSON.parse(line.text) as Record<string, unknown>)
          .find((line) => line.requestId === failed.requestId)
        expect(failedLine).toMatchObject({ message: 'scache', handlerError: true })

        // The captured log, exported as `aws logs tail` prints it, read by the report: a row
        // per environment (log stream), with that environment's own counts.
        const exported = join(out, `${mode}.log`)
        const all: CapturedLine[] = environments.flatMap((environment) => environment.lines)
        await writeFile(
          exported,
          all
            .map((line) => `${new Date(line.time).toISOString()} ${line.stream} ${line.text}`)
            .join('\n'),
        )
        const page = join(out, `${mode}.html`)
        const report = await runCli(['report', '--json', exported, '--html', page])
        expect(report.code).toBe(0)
        const html = await readFile(page, 'utf8')
        const ratioChart = html.slice(html.indexOf('<svg class="chart hit-ratio"'))
        expect(
          [
            ...ratioChart
              .slice(0, ratioChart.indexOf('</svg>'))
              .matchAll(/data-container="([^"]+)"/g),
          ]
            .map(([, name]) => name)
            .sort(),
        ).toEqual(environments.map((e) => e.lines[0]?.stream).sort())
        const summary = JSON.parse(report.stdout) as {
          invocations: number
          containers: { name: string; invocations: number; hits: number; misses: number }[]
        }
        const scacheLines = (environment: RicEnvironment) =>
          environment.lines
            .filter((line) => line.text.startsWith('{'))
            .map((line) => JSON.parse(line.text) as InvocationLog)
            .filter((line) => line.message === 'scache')
        expect(summary.containers.map((c) => c.name).sort()).toEqual(
          environments.map((e) => e.lines[0]?.stream).sort(),
        )
        for (const environment of environments) {
          const own = scacheLines(environment)
          expect(
            summary.containers.find((c) => c.name === environment.lines[0]?.stream),
          ).toMatchObject({
            invocations: own.length,
            hits: own.reduce((n, line) => n + line.hits, 0),
            misses: own.reduce((n, line) => n + line.misses, 0),
          })
        }
      } finally {
        for (const environment of environments) await environment.close()
        await dynamodb.close()
        await kinesis.close()
      }
    })
  },
)
