import { type ChildProcess, spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createInterface } from 'node:readline'
import { text } from 'node:stream/consumers'

/**
 * One Lambda execution environment run by AWS's own runtime client (`aws-lambda-ric`, the npm
 * package Lambda container images use) behind a Runtime API of our own: the
 * `2018-06-01/runtime` endpoints the client polls for events and posts results to. Like Lambda,
 * it freezes the process (SIGSTOP) once the runtime asks for its next event and thaws it
 * (SIGCONT) when one arrives, and it captures the process's stdout and stderr line by line as
 * CloudWatch Logs would, with the platform's START, END and REPORT lines around each invocation.
 */

/** A line of the environment's log: what the process wrote, or a platform line. */
export interface CapturedLine {
  /** The environment's log stream. */
  readonly stream: string
  /** When the line was captured, ms since the epoch (CloudWatch's ingestion stamp). */
  readonly time: number
  readonly text: string
}

export interface RicEnvironmentOptions {
  /** The log stream name, e.g. `2026/12/01/[$LATEST]` and an id: names the environment. */
  readonly stream: string
  /** The Node binary to run the runtime client with (it needs Node 22 or later). */
  readonly node: string
  /** The client's entry point: `…/node_modules/aws-lambda-ric/index.mjs`. */
  readonly ric: string
  /** The code's folder (`LAMBDA_TASK_ROOT`) and handler (`_HANDLER`, e.g. `api.handler`). */
  readonly taskRoot: string
  readonly handler: string
  readonly functionName: string
  /** The function's timeout: an invocation running longer fails and the process is killed. */
  readonly timeoutMs: number
  /** The function's own variables (the template's `Environment`), and the endpoints to use. */
  readonly environment: Readonly<Record<string, string>>
  /** Time allowed for the process to start and load the handler. Default 30 s. */
  readonly initTimeoutMs?: number
  readonly onLine?: (line: CapturedLine) => void
}

/** What an invocation returned: the handler's result, or the error the runtime reported. */
export type InvocationResult =
  | { readonly requestId: string; readonly ok: true; readonly result: unknown }
  | {
      readonly requestId: string
      readonly ok: false
      readonly errorType: string
      readonly error: unknown
    }

interface Pending {
  readonly requestId: string
  readonly event: unknown
  readonly started: number
  readonly resolve: (result: InvocationResult) => void
  readonly reject: (error: Error) => void
  readonly timer: NodeJS.Timeout
}

const NEXT = '/2018-06-01/runtime/invocation/next'
const INVOCATION = /^\/2018-06-01\/runtime\/invocation\/([^/]+)\/(response|error)$/
const INIT_ERROR = '/2018-06-01/runtime/init/error'

export class RicEnvironment {
  readonly lines: CapturedLine[] = []
  readonly #options: RicEnvironmentOptions
  readonly #server: Server
  #child: ChildProcess | undefined
  /** The runtime's `next` request, held while the environment is frozen. */
  #waiting: ServerResponse | undefined
  #pending: Pending | undefined
  #queue: Promise<unknown> = Promise.resolve()
  /** Called when the runtime next asks for an event (and is frozen). */
  readonly #onIdle = new Set<() => void>()
  #initFailed: ((error: Error) => void) | undefined
  #exited: string | undefined

  private constructor(options: RicEnvironmentOptions, server: Server) {
    this.#options = options
    this.#server = server
  }

  /** Starts the runtime client and resolves once it loaded the handler and asked for an event. */
  static async start(options: RicEnvironmentOptions): Promise<RicEnvironment> {
    const server = createServer()
    const environment = new RicEnvironment(options, server)
    server.on('request', (request, response) => {
      environment.#route(request, response).catch((error: unknown) => {
        response.writeHead(500).end(String(error))
      })
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const { port } = server.address() as AddressInfo
    await environment.#spawn(`127.0.0.1:${port}`)
    return environment
  }

  /** The process id of the runtime client. */
  get pid(): number {
    const pid = this.#child?.pid
    if (pid === undefined) throw new Error(`${this.#options.stream}: not running`)
    return pid
  }

  /** Whether the process is stopped (frozen), from the kernel's view of it. */
  get frozen(): boolean {
    const stat = readFileSync(`/proc/${this.pid}/stat`, 'utf8')
    // Fields after the command name, which is in parentheses and may hold spaces.
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('T')
  }

  /** Invokes the function once; invocations queue, one at a time, as Lambda sends them. */
  invoke(event: unknown): Promise<InvocationResult> {
    const run = async () => {
      await this.idle()
      return this.#invoke(event)
    }
    const result = this.#queue.then(run, run)
    this.#queue = result.catch(() => {})
    return result
  }

  /** Resolves once the runtime asked for its next event and the process is frozen. */
  idle(timeoutMs = 10_000): Promise<void> {
    if (this.#waiting !== undefined && this.#pending === undefined) return Promise.resolve()
    return new Promise((resolve, reject) => {
      const done = () => {
        clearTimeout(timer)
        resolve()
      }
      const timer = setTimeout(() => {
        this.#onIdle.delete(done)
        reject(
          new Error(`${this.#options.stream}: no request for the next event in ${timeoutMs} ms`),
        )
      }, timeoutMs)
      this.#onIdle.add(done)
    })
  }

  async close(): Promise<void> {
    const child = this.#child
    if (child !== undefined && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGKILL')
      await exited
    }
    this.#server.closeAllConnections()
    await new Promise<void>((resolve) => this.#server.close(() => resolve()))
  }

  #log(text: string): void {
    const line = { stream: this.#options.stream, time: Date.now(), text }
    this.lines.push(line)
    this.#options.onLine?.(line)
  }

  async #spawn(runtimeApi: string): Promise<void> {
    const options = this.#options
    const init = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(new Error(`${options.stream}: no request for an event within the init timeout`)),
        options.initTimeoutMs ?? 30_000,
      )
      this.#onIdle.add(() => {
        clearTimeout(timer)
        resolve()
      })
      this.#initFailed = (error) => {
        clearTimeout(timer)
        reject(error)
      }
    })
    const child = spawn(options.node, [options.ric], {
      cwd: options.taskRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        // What Lambda sets for every function, then the function's own variables.
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        TZ: ':UTC',
        LANG: 'en_US.UTF-8',
        AWS_EXECUTION_ENV: `AWS_Lambda_nodejs${process.versions.node.split('.')[0]}.x`,
        AWS_LAMBDA_FUNCTION_NAME: options.functionName,
        AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '512',
        AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${options.functionName}`,
        AWS_LAMBDA_LOG_STREAM_NAME: options.stream,
        AWS_LAMBDA_RUNTIME_API: runtimeApi,
        LAMBDA_TASK_ROOT: options.taskRoot,
        // aws-lambda-ric 4.0.2 reads the handler from here only, not from its arguments.
        _HANDLER: options.handler,
        ...options.environment,
      },
    })
    this.#child = child
    for (const output of [child.stdout, child.stderr]) {
      if (output === null) continue
      createInterface({ input: output, crlfDelay: Number.POSITIVE_INFINITY }).on('line', (line) =>
        this.#log(line),
      )
    }
    child.on('exit', (code, signal) => {
      this.#exited = `exited with ${signal ?? code}`
      const error = new Error(`${options.stream}: the runtime ${this.#exited}`)
      this.#initFailed?.(error)
      this.#pending?.reject(error)
    })
    await init
    this.#initFailed = undefined
  }

  #invoke(event: unknown): Promise<InvocationResult> {
    if (this.#exited !== undefined)
      return Promise.reject(new Error(`${this.#options.stream}: the runtime ${this.#exited}`))
    const waiting = this.#waiting
    if (waiting === undefined) throw new Error(`${this.#options.stream}: runtime not waiting`)
    const requestId = randomUUID()
    const started = Date.now()
    const deadline = started + this.#options.timeoutMs
    return new Promise<InvocationResult>((resolve, reject) => {
      const timer = setTimeout(() => {
        // What Lambda does with a function past its timeout: the environment is discarded.
        this.#log(
          `${new Date().toISOString()} ${requestId} Task timed out after ${this.#options.timeoutMs} ms`,
        )
        this.#child?.kill('SIGKILL')
        reject(new Error(`${this.#options.stream}: invocation ${requestId} timed out`))
      }, this.#options.timeoutMs)
      this.#pending = { requestId, event, started, resolve, reject, timer }
      this.#waiting = undefined
      this.#log(`START RequestId: ${requestId} Version: $LATEST`)
      process.kill(this.pid, 'SIGCONT')
      waiting
        .writeHead(200, {
          'content-type': 'application/json',
          'lambda-runtime-aws-request-id': requestId,
          'lambda-runtime-deadline-ms': String(deadline),
          'lambda-runtime-invoked-function-arn': `arn:aws:lambda:us-east-1:000000000000:function:${this.#options.functionName}`,
          'lambda-runtime-trace-id': `Root=1-${Math.floor(started / 1000).toString(16)}-${randomUUID().replaceAll('-', '').slice(0, 24)};Sampled=0`,
        })
        .end(JSON.stringify(event))
    })
  }

  async #route(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const path = request.url ?? ''
    if (request.method === 'GET' && path === NEXT) {
      // The runtime is done with the last event (or with init): freeze it until the next one.
      process.kill(this.pid, 'SIGSTOP')
      // The signal is delivered asynchronously: idle means stopped, as the kernel reports it.
      const deadline = Date.now() + 5_000
      while (!this.frozen) {
        if (Date.now() > deadline) throw new Error(`${this.#options.stream}: did not stop`)
        await new Promise((resolve) => setTimeout(resolve, 1))
      }
      this.#waiting = response
      const waiters = [...this.#onIdle]
      this.#onIdle.clear()
      for (const resolve of waiters) resolve()
      return
    }
    const body = await text(request)
    const invocation = INVOCATION.exec(path)
    if (request.method === 'POST' && invocation !== null) {
      const pending = this.#pending
      const [, id, kind] = invocation
      if (pending === undefined || decodeURIComponent(id ?? '') !== pending.requestId) {
        response.writeHead(400, { 'content-type': 'application/json' })
        response.end(JSON.stringify({ errorType: 'InvalidRequestID' }))
        return
      }
      clearTimeout(pending.timer)
      this.#pending = undefined
      const parsed: unknown = body === '' ? null : JSON.parse(body)
      const durationMs = Date.now() - pending.started
      this.#log(`END RequestId: ${pending.requestId}`)
      this.#log(
        `REPORT RequestId: ${pending.requestId}\tDuration: ${durationMs.toFixed(2)} ms\tBilled Duration: ${Math.max(1, Math.ceil(durationMs))} ms\tMemory Size: 512 MB`,
      )
      pending.resolve(
        kind === 'response'
          ? { requestId: pending.requestId, ok: true, result: parsed }
          : {
              requestId: pending.requestId,
              ok: false,
              errorType: String(request.headers['lambda-runtime-function-error-type'] ?? ''),
              error: parsed,
            },
      )
      response.writeHead(202, { 'content-type': 'application/json' })
      response.end(JSON.stringify({ status: 'OK' }))
      return
    }
    if (request.method === 'POST' && path === INIT_ERROR) {
      this.#initFailed?.(new Error(`${this.#options.stream}: init failed: ${body}`))
      response.writeHead(202).end()
      return
    }
    response.writeHead(404).end()
  }
}
