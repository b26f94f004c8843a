import { startLocalKinesis } from '../../infra/local/kinesis.js'
import { type LimitsProxy, startLimitsProxy } from '../../test/support/limits-proxy.js'
import type { HostReply, HostRequest } from './kinesis-host.js'

// The host process of startKinesisHost (kinesis-host.ts): kinesalite and limits proxies in front
// of it, driven over IPC by the benchmark.
const kinesis = await startLocalKinesis()
const proxies = new Map<string, LimitsProxy>()

const proxyOf = (endpoint: string): LimitsProxy => {
  const proxy = proxies.get(endpoint)
  if (proxy === undefined) throw new Error(`no proxy at ${endpoint}`)
  return proxy
}

let closed: Promise<void> | undefined
const close = (): Promise<void> => {
  closed ??= (async () => {
    for (const proxy of proxies.values()) await proxy.close()
    proxies.clear()
    await kinesis.close()
  })()
  return closed
}

const handle = async (request: HostRequest): Promise<unknown> => {
  switch (request.op) {
    case 'createStream':
      await kinesis.createStream(request.name, request.shards)
      return null
    case 'startProxy': {
      const proxy = await startLimitsProxy({
        target: kinesis.config.endpoint,
        latencyMs: request.latencyMs,
        answerReads: request.answerReads,
      })
      proxies.set(proxy.endpoint, proxy)
      return proxy.endpoint
    }
    case 'stats':
      return proxyOf(request.proxy).stats()
    case 'resetStats':
      proxyOf(request.proxy).resetStats()
      return null
    case 'inject':
      proxyOf(request.proxy).inject(request.rule)
      return null
    case 'clearFaults':
      proxyOf(request.proxy).clearFaults()
      return null
    case 'closeProxy':
      await proxyOf(request.proxy).close()
      proxies.delete(request.proxy)
      return null
    case 'cpuUsage': {
      const { user, system } = process.cpuUsage()
      return (user + system) / 1_000
    }
    case 'close':
      await close()
      return null
  }
}

const reply = (message: HostReply): void => {
  if (process.connected) process.send?.(message)
}

process.on('message', async (message: { id: number; request: HostRequest }) => {
  try {
    reply({ id: message.id, ok: true, value: await handle(message.request) })
  } catch (error) {
    reply({
      id: message.id,
      ok: false,
      message: error instanceof Error ? error.message : String(error),
    })
  }
  // Closed: the IPC channel was the last thing keeping this process alive.
  if (message.request.op === 'close' && process.connected) process.disconnect()
})
// The benchmark ended without closing the host (it threw, or was killed): do not outlive it.
process.once('disconnect', () => {
  void close().finally(() => process.exit())
})

process.send?.('ready')
