import { fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { FaultRule, ProxyStats } from '../../test/support/limits-proxy.js'

/** What the parent asks the host process to do. */
export type HostRequest =
  | { readonly op: 'createStream'; readonly name: string; readonly shards: number }
  | { readonly op: 'startProxy'; readonly latencyMs: number; readonly answerReads: boolean }
  | { readonly op: 'resetStats' | 'stats' | 'clearFaults' | 'closeProxy'; readonly proxy: string }
  | { readonly op: 'inject'; readonly proxy: string; readonly rule: FaultRule }
  | { readonly op: 'cpuUsage' }
  | { readonly op: 'close' }

export type HostReply =
  | { readonly id: number; readonly ok: true; readonly value: unknown }
  | { readonly id: number; readonly ok: false; readonly message: string }

/** A limits proxy running in the host process. */
export interface RemoteProxy {
  /** `http://127.0.0.1:<port>`: point a client here (limitsProxyClient). */
  readonly endpoint: string
  stats(): Promise<ProxyStats>
  resetStats(): Promise<void>
  /** Adds a fault rule (LimitsProxy.inject). */
  inject(rule: FaultRule): Promise<void>
  /** Removes every fault rule. */
  clearFaults(): Promise<void>
  close(): Promise<void>
}

export interface KinesisHost {
  /** Creates a stream in the host's kinesalite and waits until it is ACTIVE. */
  createStream(name: string, shards: number): Promise<void>
  /**
   * Starts a limits proxy in front of the host's kinesalite, adding `latencyMs` to each call;
   * `answerReads`: the proxy answers GetRecords itself (LimitsProxyOptions.answerReads).
   */
  startProxy(latencyMs: number, answerReads?: boolean): Promise<RemoteProxy>
  /** CPU the host process has used since it started, ms (user + system, all its threads). */
  cpuMs(): Promise<number>
  close(): Promise<void>
}

/**
 * Starts kinesalite and the limits proxies in a child process, as a real Kinesis is never in its
 * client's process: the client measures its own work and the round trips, and the emulator's
 * CPU is spent on another thread (on another core, when one is free). Kinesis calls go to the
 * proxies over loopback HTTP; the benchmark sets the host up and reads its counters over IPC.
 */
export const startKinesisHost = async (): Promise<KinesisHost> => {
  const child = fork(fileURLToPath(new URL('./kinesis-host-child.ts', import.meta.url)), [], {
    // The parent's Node flags (--cpu-prof, when profiling the benchmark), and tsx to load .ts.
    execArgv: process.execArgv.some((arg) => arg.includes('tsx'))
      ? process.execArgv
      : [...process.execArgv, '--import', 'tsx'],
    // Its output goes to stderr: a section's stdout carries the section's result (bench/run.ts).
    stdio: ['ignore', 2, 2, 'ipc'],
  })
  const pending = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>()
  let nextId = 0
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  child.on('message', (message: HostReply | 'ready') => {
    if (message === 'ready') return
    const waiting = pending.get(message.id)
    pending.delete(message.id)
    if (message.ok) waiting?.resolve(message.value)
    else waiting?.reject(new Error(`kinesis host: ${message.message}`))
  })
  child.once('exit', (code) => {
    for (const waiting of pending.values())
      waiting.reject(new Error(`kinesis host exited (code ${code})`))
    pending.clear()
  })
  await new Promise<void>((resolve, reject) => {
    child.once('message', (message) => {
      if (message === 'ready') resolve()
      else reject(new Error('kinesis host: expected ready'))
    })
    child.once('exit', (code) => reject(new Error(`kinesis host exited (code ${code})`)))
  })
  const call = (request: HostRequest): Promise<unknown> =>
    new Promise((resolve, reject) => {
      const id = nextId++
      pending.set(id, { resolve, reject })
      child.send({ id, request })
    })

  return {
    async createStream(name, shards) {
      await call({ op: 'createStream', name, shards })
    },
    async startProxy(latencyMs, answerReads = false) {
      const endpoint = (await call({ op: 'startProxy', latencyMs, answerReads })) as string
      return {
        endpoint,
        stats: async () => (await call({ op: 'stats', proxy: endpoint })) as ProxyStats,
        resetStats: async () => {
          await call({ op: 'resetStats', proxy: endpoint })
        },
        inject: async (rule) => {
          await call({ op: 'inject', proxy: endpoint, rule })
        },
        clearFaults: async () => {
          await call({ op: 'clearFaults', proxy: endpoint })
        },
        close: async () => {
          await call({ op: 'closeProxy', proxy: endpoint })
        },
      }
    },
    cpuMs: async () => (await call({ op: 'cpuUsage' })) as number,
    async close() {
      await call({ op: 'close' })
      await exited
    },
  }
}
