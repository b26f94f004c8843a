import { performance } from 'node:perf_hooks'
import middy from '@middy/core'
import type { Context } from 'aws-lambda'
import type { InvocationLog, ScacheOptions, WithCache } from '../src/index.js'
import { loadScache } from './lib/scache.js'
import { blackhole, median, sig } from './lib/stats.js'
import { instantClient } from './lib/stub-client.js'

const INVOCATIONS = 20_000
const ROUNDS = 7

type Handler = (event: unknown, context: Context) => Promise<unknown>

interface Variant {
  readonly name: string
  readonly handler: Handler
  /** Writes to stdout, which a sink takes while it is measured. */
  readonly stdout?: boolean
}

export interface MiddlewareResult {
  readonly invocationsPerRound: number
  readonly rounds: number
  /** Median µs per invocation, wall and CPU (user + system), by variant. */
  readonly perInvocationUs: Record<string, { readonly wall: number; readonly cpu: number }>
  /** CPU µs per warm invocation that scache adds with no poll due (target < 10). */
  readonly overheadCpuUs: number
  readonly overheadWallUs: number
  /** The same with a poll on every invocation, answered at once by a stubbed client. */
  readonly overheadWithPollCpuUs: number
  /**
   * CPU µs per warm invocation that scache adds with its default log line on (`log: true`,
   * serialised and handed to `process.stdout.write`, which a sink stands in for), no poll due
   * (target ≤ 3).
   */
  readonly warmInvocationUsOverMiddy?: number
}

/** A fresh Lambda-like context per invocation, as the runtime gives one. */
const remaining = () => 3_000
const noop = () => {}

const newContext = (n: number): Context => {
  const context: Context = {
    callbackWaitsForEmptyEventLoop: true,
    functionName: 'bench',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:bench',
    memoryLimitInMB: '1024',
    awsRequestId: `request-${n}`,
    logGroupName: '/aws/lambda/bench',
    logStreamName: 'bench',
    getRemainingTimeInMillis: remaining,
    done: noop,
    fail: noop,
    succeed: noop,
  }
  return context
}

const base = async (_event: unknown, _context: Context) => ({ statusCode: 200 })

/** A handler with scache in front of it, with one entry cached (an empty cache never polls). */
const withScache = async (options: ScacheOptions): Promise<Handler> => {
  const { scache } = await loadScache()
  const middleware = scache({ stream: { name: 'bench', client: instantClient() }, ...options })
  const invocation = await middleware.instance.begin()
  invocation.cache.set('users:1', { id: 1 })
  invocation.end()
  return middy(async (_event: unknown, context: Context & WithCache) => {
    blackhole.value = context.cache
    return { statusCode: 200 }
  }).use(middleware) as unknown as Handler
}

/**
 * The default log line goes to stdout; here a sink takes it, so that what is measured is scache's
 * work and not the pipe's (the same for any logger).
 */
const realWrite = process.stdout.write
const sinkWrite = ((chunk: string) => {
  blackhole.value = chunk
  return true
}) as typeof process.stdout.write

const measure = async (
  handler: Handler,
  invocations: number,
  stdoutSink = false,
): Promise<{ wall: number; cpu: number }> => {
  if (stdoutSink) process.stdout.write = sinkWrite
  const cpu = process.cpuUsage()
  const started = performance.now()
  for (let n = 0; n < invocations; n++) await handler({}, newContext(n))
  const wallMs = performance.now() - started
  const used = process.cpuUsage(cpu)
  process.stdout.write = realWrite
  return {
    wall: (wallMs * 1_000) / invocations,
    cpu: (used.user + used.system) / invocations,
  }
}

export const middlewareOverhead = async (): Promise<MiddlewareResult> => {
  const variants: Variant[] = [
    { name: 'middy, no middleware', handler: middy(base) as unknown as Handler },
    {
      name: 'middy + scache, no poll due',
      handler: await withScache({
        pollIntervalMs: 3_600_000,
        maxStalenessMs: 3_600_000,
        log: false,
      }),
    },
    {
      name: 'middy + scache, no poll due, log line serialised',
      handler: await withScache({
        pollIntervalMs: 3_600_000,
        maxStalenessMs: 3_600_000,
        log: (line: InvocationLog) => {
          blackhole.value = JSON.stringify(line)
        },
      }),
    },
    {
      name: 'middy + scache, no poll due, default log line (log: true, stdout a sink)',
      handler: await withScache({ pollIntervalMs: 3_600_000, maxStalenessMs: 3_600_000 }),
      stdout: true,
    },
    {
      name: 'middy + scache, poll every invocation (stubbed client)',
      handler: await withScache({ pollIntervalMs: 0, log: false }),
    },
  ]
  for (const variant of variants) await measure(variant.handler, INVOCATIONS / 4, variant.stdout)
  const samples = new Map<string, { wall: number[]; cpu: number[] }>(
    variants.map((variant) => [variant.name, { wall: [], cpu: [] }]),
  )
  for (let round = 0; round < ROUNDS; round++) {
    // Rotate the order so that no variant always runs after the same one.
    for (let i = 0; i < variants.length; i++) {
      const variant = variants[(i + round) % variants.length] as Variant
      const result = await measure(variant.handler, INVOCATIONS, variant.stdout)
      samples.get(variant.name)?.wall.push(result.wall)
      samples.get(variant.name)?.cpu.push(result.cpu)
    }
  }
  const perInvocationUs: Record<string, { wall: number; cpu: number }> = {}
  for (const [name, { wall, cpu }] of samples)
    perInvocationUs[name] = { wall: sig(median(wall)), cpu: sig(median(cpu)) }
  const of = (index: number) => perInvocationUs[variants[index]?.name ?? ''] ?? { wall: 0, cpu: 0 }
  return {
    invocationsPerRound: INVOCATIONS,
    rounds: ROUNDS,
    perInvocationUs,
    overheadCpuUs: sig(of(1).cpu - of(0).cpu),
    overheadWallUs: sig(of(1).wall - of(0).wall),
    overheadWithPollCpuUs: sig(of(4).cpu - of(0).cpu),
    warmInvocationUsOverMiddy: sig(of(3).cpu - of(0).cpu),
  }
}
