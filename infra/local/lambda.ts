import { AsyncLocalStorage } from 'node:async_hooks'
import { randomUUID } from 'node:crypto'
import type { Context, Handler } from 'aws-lambda'

/** One line a function wrote to stdout during an invocation, parsed when it is JSON. */
export interface FunctionLog {
  readonly container: string
  readonly requestId: string
  /** The event of the invocation that wrote the line. */
  readonly event: unknown
  readonly line: string
  readonly json: Record<string, unknown> | undefined
}

/** A simulated warm Lambda container: its own instance of the handler module. */
export interface Container {
  readonly name: string
  /** Requests served so far. */
  readonly invocations: number
  readonly busy: boolean
}

export interface FunctionPoolOptions {
  /** The function's name (`AWS_LAMBDA_FUNCTION_NAME` and the context's `functionName`). */
  readonly name: string
  /** Module URL of the handler file; each container imports its own instance. */
  readonly module: string
  /** The export to call. Default `handler`. */
  readonly export?: string
  readonly containers: number
  /** The function's timeout, ms: `getRemainingTimeInMillis` counts down from it. */
  readonly timeoutMs?: number
  /** Called with each line a container writes to stdout while it serves a request. */
  readonly onLog?: (log: FunctionLog) => void
}

interface Slot {
  readonly name: string
  readonly handler: Handler
  /** The request being served; the next waits for it (Lambda sends one at a time). */
  tail: Promise<unknown>
  pending: number
  invocations: number
}

const current = new AsyncLocalStorage<{ container: string; requestId: string; event: unknown }>()
const listeners = new Set<(log: FunctionLog) => void>()
let realWrite: typeof process.stdout.write | undefined

/**
 * Lines written to stdout inside an invocation go to the pools' listeners, tagged with the
 * container and request that wrote them (the async context follows the handler's awaits); other
 * output passes through. What Lambda does with a function's stdout: CloudWatch Logs, per container.
 */
const captureStdout = (listener: (log: FunctionLog) => void): (() => void) => {
  listeners.add(listener)
  if (realWrite === undefined) {
    const write = process.stdout.write.bind(process.stdout)
    realWrite = process.stdout.write
    process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      const invocation = current.getStore()
      if (invocation === undefined)
        return (write as (...args: unknown[]) => boolean)(chunk, ...rest)
      for (const line of String(chunk).split('\n')) {
        if (line === '') continue
        let json: Record<string, unknown> | undefined
        try {
          const parsed: unknown = JSON.parse(line)
          if (typeof parsed === 'object' && parsed !== null)
            json = parsed as Record<string, unknown>
        } catch {
          // Not JSON: passed on as text.
        }
        // Outside the invocation's context: what a listener prints is not the function's output.
        const log = { ...invocation, line, json }
        current.exit(() => {
          for (const notify of listeners) notify(log)
        })
      }
      return true
    }) as typeof process.stdout.write
  }
  return () => {
    listeners.delete(listener)
    if (listeners.size === 0 && realWrite !== undefined) {
      process.stdout.write = realWrite
      realWrite = undefined
    }
  }
}

/**
 * A function's warm containers, as Lambda runs them: each its own module scope (so its own
 * cache), serving one request at a time. A request goes to the next idle container in turn, or
 * waits for the next in turn when all are busy (where Lambda would start another).
 */
export class FunctionPool {
  readonly #options: FunctionPoolOptions
  readonly #slots: Slot[]
  #next = 0
  readonly #release: () => void

  private constructor(options: FunctionPoolOptions, slots: Slot[]) {
    this.#options = options
    this.#slots = slots
    this.#release = captureStdout((log) => {
      if (slots.some((slot) => slot.name === log.container)) options.onLog?.(log)
    })
  }

  static async start(options: FunctionPoolOptions): Promise<FunctionPool> {
    const slots: Slot[] = []
    for (let i = 1; i <= options.containers; i++) {
      // A distinct URL is a distinct module instance: the handler's module scope per container.
      const separator = options.module.includes('?') ? '&' : '?'
      const module = (await import(`${options.module}${separator}container=${i}`)) as Record<
        string,
        unknown
      >
      const handler = module[options.export ?? 'handler']
      if (typeof handler !== 'function')
        throw new Error(`${options.module} exports no function ${options.export ?? 'handler'}`)
      slots.push({
        name: `${options.name}-${i}`,
        handler: handler as Handler,
        tail: Promise.resolve(),
        pending: 0,
        invocations: 0,
      })
    }
    return new FunctionPool(options, slots)
  }

  get containers(): readonly Container[] {
    return this.#slots.map((slot) => ({
      name: slot.name,
      invocations: slot.invocations,
      busy: slot.pending > 0,
    }))
  }

  /** Invokes the function; `container` (1-based) pins the request to one container. */
  invoke(event: unknown, container?: number): { container: string; result: Promise<unknown> } {
    const slot = this.#pick(container)
    const requestId = randomUUID()
    slot.pending++
    const run = async () => {
      slot.invocations++
      const context = this.#context(slot, requestId)
      return current.run({ container: slot.name, requestId, event }, () =>
        slot.handler(event, context, () => {}),
      )
    }
    const result = slot.tail.then(run, run).finally(() => {
      slot.pending--
    })
    slot.tail = result.catch(() => {})
    return { container: slot.name, result }
  }

  close(): void {
    this.#release()
  }

  #pick(pinned: number | undefined): Slot {
    if (pinned !== undefined) {
      const slot = this.#slots[pinned - 1]
      if (slot === undefined) throw new RangeError(`no container ${pinned}`)
      return slot
    }
    const count = this.#slots.length
    for (let i = 0; i < count; i++) {
      const slot = this.#slots[(this.#next + i) % count] as Slot
      if (slot.pending === 0) {
        this.#next = (this.#next + i + 1) % count
        return slot
      }
    }
    const slot = this.#slots[this.#next] as Slot
    this.#next = (this.#next + 1) % count
    return slot
  }

  #context(slot: Slot, requestId: string): Context {
    const timeoutMs = this.#options.timeoutMs ?? 10_000
    const deadline = Date.now() + timeoutMs
    const name = this.#options.name
    return {
      callbackWaitsForEmptyEventLoop: true,
      functionName: name,
      functionVersion: '$LATEST',
      invokedFunctionArn: `arn:aws:lambda:us-east-1:000000000000:function:${name}`,
      memoryLimitInMB: '512',
      awsRequestId: requestId,
      logGroupName: `/aws/lambda/${name}`,
      logStreamName: slot.name,
      getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
      done: () => {},
      fail: () => {},
      succeed: () => {},
    }
  }
}
