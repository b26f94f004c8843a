import { randomUUID } from 'node:crypto'
import {
  Agent,
  createServer,
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type ServerResponse,
} from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { buffer } from 'node:stream/consumers'
import { setTimeout as sleep } from 'node:timers/promises'
import type { KinesisClient } from '@aws-sdk/client-kinesis'
import { createDefaultClient } from '../../src/stream/index.js'
import { seededRandom } from './prng.js'

/**
 * What an injected fault does to a call:
 * - `throttle`: 400 `ProvisionedThroughputExceededException`, as when a shard's limit is hit;
 * - `5xx`: 500 `InternalFailure`, a Kinesis-side failure;
 * - `hang`: the request is read and never answered, so only the client's timeout or abort ends it;
 * - `reset`: the connection is reset with no response (the client sees ECONNRESET).
 */
export type FaultKind = 'throttle' | '5xx' | 'hang' | 'reset'

export interface FaultRule {
  readonly kind: FaultKind
  /** Only these operations (`GetRecords`, `ListShards`, …); default all. */
  readonly operations?: readonly string[]
  /** Fault the next `times` matching calls, then the rule is removed; default unlimited. */
  readonly times?: number
  /**
   * Fault each matching call with this probability, 0 to 1; default 1. Each rule draws from its
   * own PRNG, seeded from the proxy's `seed` and the rule's ordinal, so the same calls fault on
   * every run whatever other rules do.
   */
  readonly probability?: number
}

export interface LimitsProxyOptions {
  /** Endpoint of the Kinesis emulator to forward to, `http://host:port`. */
  readonly target: string
  /** GetRecords calls per second per shard (a sliding 1 s window); default 5, as Kinesis. */
  readonly getRecordsPerSecond?: number
  /** GetShardIterator calls per second per shard (a sliding 1 s window); default 5, as Kinesis. */
  readonly getShardIteratorPerSecond?: number
  /**
   * Bytes of record data a shard may return per second; default 2 MiB, as Kinesis. A token
   * bucket of this capacity, refilled at this rate: a GetRecords is allowed while the balance is
   * positive, and its returned data is subtracted afterwards, so one large read (up to 10 MiB
   * on Kinesis) throttles the shard until the deficit has refilled.
   */
  readonly readBytesPerSecond?: number
  /** False lets every call through unthrottled (faults still apply); default true. */
  readonly enforceLimits?: boolean
  /**
   * Answers each admitted GetRecords itself, with no records and the iterator it was given,
   * instead of forwarding it: a backend that serves every shard at once and at no cost, as
   * Kinesis' own fleet does against one client, where the emulator serves calls one at a time.
   * For benchmarks of the client's side; other operations are forwarded. Default false.
   */
  readonly answerReads?: boolean
  /**
   * Delay added to every call (faulted and throttled ones too) before it is handled, ms; a
   * function is asked once per call. Default 0.
   */
  readonly latencyMs?: number | (() => number)
  /** Seed of the PRNG that decides probabilistic faults; default 1. */
  readonly seed?: number
  /**
   * Most shard iterators remembered (oldest dropped first; entries older than 6 minutes are
   * dropped anyway, as Kinesis iterators expire after 5). Default 10,000.
   */
  readonly maxIterators?: number
}

export interface ProxyStats {
  /** Every call received, by operation (`GetRecords`, …), whatever became of it. */
  readonly calls: Record<string, number>
  /** Calls refused by the per-shard limits, by operation (injected throttles not included). */
  readonly throttled: Record<string, number>
  /** Calls answered by an injected fault, by kind. */
  readonly faults: Record<FaultKind, number>
}

export interface LimitsProxy {
  /** `http://127.0.0.1:<port>`: point a Kinesis client here instead of at the emulator. */
  readonly endpoint: string
  /**
   * A client like scache's default (`createDefaultClient`: HTTP/1.1 keep-alive, tight timeouts)
   * pointed at the proxy; one attempt unless `maxAttempts` says otherwise, so a test sees each
   * throttle and fault. close() destroys it.
   */
  client(options?: { maxAttempts?: number; requestTimeoutMs?: number }): KinesisClient
  /** Adds a fault rule, checked after the rules added before it; returns its removal. */
  inject(rule: FaultRule): () => void
  /** Removes every fault rule. */
  clearFaults(): void
  /** Replaces the latency added to each later call. */
  setLatency(latencyMs: number | (() => number)): void
  /** A copy of the counters since the start or the last resetStats(). */
  stats(): ProxyStats
  /** Zeroes the counters (limits and faults keep their state). */
  resetStats(): void
  /** Destroys hung and open connections, the upstream agent and the clients made by client(). */
  close(): Promise<void>
}

const MiB = 1024 * 1024
const ACCOUNT_ID = '000000000000'
const ITERATOR_TTL_MS = 6 * 60_000
const WINDOW_MS = 1_000
const JSON_CONTENT_TYPE = 'application/x-amz-json-1.1'
// Connection-level headers describe one hop; the proxy sets its own on each side.
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'te',
  'trailer',
  'content-length',
])

const defaults = {
  getRecordsPerSecond: 5,
  getShardIteratorPerSecond: 5,
  readBytesPerSecond: 2 * MiB,
  enforceLimits: true,
  answerReads: false,
  latencyMs: 0 as number | (() => number),
  seed: 1,
  maxIterators: 10_000,
}

/** A shard whose limits a call counts against. */
interface ShardRef {
  readonly stream: string
  readonly shardId: string
}

/** Where a shard stands against its limits. */
interface ShardBudget {
  /** Admission times of the GetRecords calls in the current window, oldest first. */
  readonly getRecordsMs: number[]
  /** Admission times of the GetShardIterator calls in the current window, oldest first. */
  readonly getShardIteratorMs: number[]
  /** Read bytes left; negative after a read larger than what was left. */
  readBytes: number
  /** When readBytes was last refilled (performance.now()). */
  refilledAtMs: number
}

interface Upstream {
  readonly status: number
  readonly headers: IncomingHttpHeaders
  readonly body: Buffer
}

interface ActiveRule {
  readonly rule: FaultRule
  readonly random: () => number
  remaining: number
}

// Iterators the proxy never handed out can't be traced to a shard; they share one budget.
const UNKNOWN: ShardRef = { stream: 'unknown', shardId: 'unknown' }

const parseObject = (body: Buffer): Record<string, unknown> => {
  try {
    const value: unknown = JSON.parse(body.toString('utf8'))
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {}
  } catch {
    return {}
  }
}

const stringField = (object: Record<string, unknown>, name: string): string | undefined => {
  const value = object[name]
  return typeof value === 'string' && value !== '' ? value : undefined
}

// Kinesis (and kinesalite) accept `shardId-000000000001`, `shardId-1` and `1` for one shard.
const normalizeShardId = (shardId: string): string => {
  const digits = /^(?:shardId-)?(\d{1,12})$/.exec(shardId)?.[1]
  return digits === undefined ? shardId : `shardId-${digits.padStart(12, '0')}`
}

/** The shard a GetShardIterator request names, by StreamName or StreamARN. */
const shardOfRequest = (body: Record<string, unknown>): ShardRef => {
  const arn = stringField(body, 'StreamARN')
  const stream = stringField(body, 'StreamName') ?? arn?.slice(arn.indexOf('stream/') + 7)
  const shardId = stringField(body, 'ShardId')
  return stream !== undefined && shardId !== undefined
    ? { stream, shardId: normalizeShardId(shardId) }
    : UNKNOWN
}

/** Bytes of record data in a GetRecords response: the base64-decoded lengths of `Data`. */
const recordBytes = (body: Record<string, unknown>): number => {
  const records = body.Records
  if (!Array.isArray(records)) return 0
  let bytes = 0
  for (const record of records as unknown[]) {
    if (typeof record !== 'object' || record === null) continue
    const data = (record as Record<string, unknown>).Data
    if (typeof data === 'string') bytes += Buffer.byteLength(data, 'base64')
  }
  return bytes
}

/** Admits a call if fewer than `limit` were admitted in the last second, and records it. */
const admitInWindow = (admittedMs: number[], limit: number, nowMs: number): boolean => {
  while (admittedMs.length > 0 && (admittedMs[0] ?? 0) <= nowMs - WINDOW_MS) admittedMs.shift()
  if (admittedMs.length >= limit) return false
  admittedMs.push(nowMs)
  return true
}

const forwardHeaders = (headers: IncomingHttpHeaders): OutgoingHttpHeaders =>
  Object.fromEntries(Object.entries(headers).filter(([name]) => !HOP_BY_HOP.has(name)))

const sendJson = (
  response: ServerResponse,
  status: number,
  type: string,
  message: string,
): void => {
  const body = JSON.stringify({ __type: type, message })
  response.writeHead(status, {
    'content-type': JSON_CONTENT_TYPE,
    'content-length': Buffer.byteLength(body),
    'x-amzn-requestid': randomUUID(),
  })
  response.end(body)
}

const emptyFaults = (): Record<FaultKind, number> => ({ throttle: 0, '5xx': 0, hang: 0, reset: 0 })

const checkRate = (name: string, value: number): void => {
  if (!(value > 0)) throw new RangeError(`startLimitsProxy: ${name} must be > 0, got ${value}`)
}

/**
 * A client like scache's default (`createDefaultClient`: HTTP/1.1 keep-alive, tight timeouts)
 * pointed at a limits proxy's endpoint, one attempt unless `maxAttempts` says otherwise; for a
 * proxy in another process (`LimitsProxy.client()` makes the same for a proxy in this one).
 */
export const limitsProxyClient = (
  endpoint: string,
  { maxAttempts = 1, requestTimeoutMs }: { maxAttempts?: number; requestTimeoutMs?: number } = {},
): KinesisClient =>
  createDefaultClient(
    { maxAttempts, requestTimeoutMs },
    {
      endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    },
  )

/**
 * Starts an HTTP proxy on a free loopback port, in front of a Kinesis emulator (kinesalite has
 * no limits): it enforces Kinesis's per-shard read limits and injects faults, so tests see the
 * throttles and failures that real Kinesis gives scache.
 */
export const startLimitsProxy = async (opts: LimitsProxyOptions): Promise<LimitsProxy> => {
  const options = { ...defaults, ...opts }
  const target = new URL(options.target)
  if (target.protocol !== 'http:') {
    throw new RangeError(`startLimitsProxy: target must be an http:// URL, got ${options.target}`)
  }
  checkRate('getRecordsPerSecond', options.getRecordsPerSecond)
  checkRate('getShardIteratorPerSecond', options.getShardIteratorPerSecond)
  checkRate('readBytesPerSecond', options.readBytesPerSecond)
  checkRate('maxIterators', options.maxIterators)

  const agent = new Agent({ keepAlive: true, maxSockets: 50 })
  const closing = new AbortController()
  const hanging = new Set<Socket>()
  const clients: KinesisClient[] = []
  const budgets = new Map<string, ShardBudget>()
  const iterators = new Map<string, { readonly shard: ShardRef; readonly seenMs: number }>()
  let rules: ActiveRule[] = []
  let rulesAdded = 0
  let latency = options.latencyMs
  let counters: ProxyStats = { calls: {}, throttled: {}, faults: emptyFaults() }

  const budgetOf = (shard: ShardRef): ShardBudget => {
    const key = `${shard.stream}/${shard.shardId}`
    let budget = budgets.get(key)
    if (budget === undefined) {
      budget = {
        getRecordsMs: [],
        getShardIteratorMs: [],
        readBytes: options.readBytesPerSecond,
        refilledAtMs: performance.now(),
      }
      budgets.set(key, budget)
    }
    return budget
  }

  const refill = (budget: ShardBudget, nowMs: number): void => {
    const earned = ((nowMs - budget.refilledAtMs) * options.readBytesPerSecond) / 1_000
    budget.readBytes = Math.min(options.readBytesPerSecond, budget.readBytes + earned)
    budget.refilledAtMs = nowMs
  }

  const learn = (iterator: string, shard: ShardRef): void => {
    const nowMs = performance.now()
    iterators.delete(iterator)
    iterators.set(iterator, { shard, seenMs: nowMs })
    // A Map iterates in insertion order: the oldest entries come first.
    for (const [key, entry] of iterators) {
      if (iterators.size <= options.maxIterators && nowMs - entry.seenMs < ITERATOR_TTL_MS) break
      iterators.delete(key)
    }
  }

  /** The shard a limited call counts against, or undefined for an unlimited operation. */
  const shardOf = (operation: string, body: Record<string, unknown>): ShardRef | undefined => {
    if (operation === 'GetShardIterator') return shardOfRequest(body)
    if (operation !== 'GetRecords') return undefined
    const iterator = stringField(body, 'ShardIterator')
    return (iterator === undefined ? undefined : iterators.get(iterator)?.shard) ?? UNKNOWN
  }

  const admit = (operation: string, shard: ShardRef): boolean => {
    const budget = budgetOf(shard)
    const nowMs = performance.now()
    if (operation === 'GetShardIterator') {
      return admitInWindow(budget.getShardIteratorMs, options.getShardIteratorPerSecond, nowMs)
    }
    refill(budget, nowMs)
    // The byte budget is checked first, so a call it refuses takes no slot of the call rate.
    return (
      budget.readBytes > 0 && admitInWindow(budget.getRecordsMs, options.getRecordsPerSecond, nowMs)
    )
  }

  /** The first rule that faults this call, counting it against the rule's `times`. */
  const pickFault = (operation: string): FaultKind | undefined => {
    for (const active of rules) {
      const { operations, probability = 1 } = active.rule
      if (operations !== undefined && !operations.includes(operation)) continue
      if (probability < 1 && active.random() >= probability) continue
      active.remaining--
      if (active.remaining <= 0) rules = rules.filter((other) => other !== active)
      return active.rule.kind
    }
    return undefined
  }

  const forward = (request: IncomingMessage, body: Buffer): Promise<Upstream> =>
    new Promise((resolve, reject) => {
      const outgoing = httpRequest(
        {
          protocol: target.protocol,
          hostname: target.hostname,
          port: target.port,
          method: request.method,
          path: request.url,
          headers: {
            ...forwardHeaders(request.headers),
            host: target.host,
            'content-length': body.length,
          },
          agent,
        },
        (incoming) => {
          const chunks: Buffer[] = []
          incoming.on('data', (chunk: Buffer) => chunks.push(chunk))
          incoming.on('error', reject)
          incoming.on('end', () =>
            resolve({
              status: incoming.statusCode ?? 502,
              headers: incoming.headers,
              body: Buffer.concat(chunks),
            }),
          )
        },
      )
      outgoing.on('error', reject)
      outgoing.end(body)
    })

  const fault = (kind: FaultKind, request: IncomingMessage, response: ServerResponse): void => {
    counters.faults[kind]++
    switch (kind) {
      case 'throttle':
        sendJson(
          response,
          400,
          'ProvisionedThroughputExceededException',
          'Rate exceeded (injected by the limits proxy).',
        )
        return
      case '5xx':
        sendJson(response, 500, 'InternalFailure', 'Injected by the limits proxy.')
        return
      case 'hang': {
        const { socket } = request
        hanging.add(socket)
        socket.once('close', () => hanging.delete(socket))
        return
      }
      case 'reset':
        request.socket.resetAndDestroy()
        return
    }
  }

  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const body = await buffer(request)
    const amzTarget = request.headers['x-amz-target']
    const operation =
      (typeof amzTarget === 'string' ? amzTarget.split('.').at(-1) : undefined) ?? '-'
    counters.calls[operation] = (counters.calls[operation] ?? 0) + 1

    const delayMs = typeof latency === 'function' ? latency() : latency
    if (delayMs > 0) await sleep(delayMs, undefined, { signal: closing.signal })

    // Faults come first: the emulator never sees a faulted call, nor does the shard's budget.
    const kind = pickFault(operation)
    if (kind !== undefined) {
      fault(kind, request, response)
      return
    }

    const limited = operation === 'GetRecords' || operation === 'GetShardIterator'
    const requestBody = limited ? parseObject(body) : {}
    const shard = shardOf(operation, requestBody)
    if (options.enforceLimits && shard !== undefined && !admit(operation, shard)) {
      counters.throttled[operation] = (counters.throttled[operation] ?? 0) + 1
      sendJson(
        response,
        400,
        'ProvisionedThroughputExceededException',
        `Rate exceeded for shard ${shard.shardId} in stream ${shard.stream} under account ${ACCOUNT_ID}.`,
      )
      return
    }

    const iterator = stringField(requestBody, 'ShardIterator')
    if (options.answerReads && operation === 'GetRecords' && iterator !== undefined) {
      const answer = JSON.stringify({
        Records: [],
        NextShardIterator: iterator,
        MillisBehindLatest: 0,
      })
      response.writeHead(200, {
        'content-type': JSON_CONTENT_TYPE,
        'content-length': Buffer.byteLength(answer),
        'x-amzn-requestid': randomUUID(),
      })
      response.end(answer)
      return
    }

    const upstream = await forward(request, body)
    if (shard !== undefined && upstream.status === 200) {
      const responseBody = parseObject(upstream.body)
      if (operation === 'GetShardIterator') {
        const iterator = stringField(responseBody, 'ShardIterator')
        if (iterator !== undefined && shard !== UNKNOWN) learn(iterator, shard)
      } else {
        const next = stringField(responseBody, 'NextShardIterator')
        if (next !== undefined && shard !== UNKNOWN) learn(next, shard)
        const budget = budgetOf(shard)
        refill(budget, performance.now())
        budget.readBytes -= recordBytes(responseBody)
      }
    }
    response.writeHead(upstream.status, {
      ...forwardHeaders(upstream.headers),
      'content-length': upstream.body.length,
    })
    response.end(upstream.body)
  }

  const server = createServer((request, response) => {
    handle(request, response).catch(() => {
      // The client left, the proxy is closing, or the emulator failed: drop the connection,
      // as a broken network would.
      request.socket.destroy()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`

  return {
    endpoint,
    client(clientOptions) {
      const created = limitsProxyClient(endpoint, clientOptions)
      clients.push(created)
      return created
    },
    inject(rule) {
      const { times, probability } = rule
      if (times !== undefined && !(Number.isInteger(times) && times > 0)) {
        throw new RangeError(`inject: times must be a positive integer, got ${times}`)
      }
      if (probability !== undefined && !(probability >= 0 && probability <= 1)) {
        throw new RangeError(`inject: probability must be within 0 to 1, got ${probability}`)
      }
      rulesAdded++
      const active: ActiveRule = {
        rule,
        random: seededRandom(options.seed + rulesAdded * 0x9e3779b9),
        remaining: times ?? Number.POSITIVE_INFINITY,
      }
      rules.push(active)
      return () => {
        rules = rules.filter((other) => other !== active)
      }
    },
    clearFaults() {
      rules = []
    },
    setLatency(latencyMs) {
      latency = latencyMs
    },
    stats() {
      return {
        calls: { ...counters.calls },
        throttled: { ...counters.throttled },
        faults: { ...counters.faults },
      }
    },
    resetStats() {
      counters = { calls: {}, throttled: {}, faults: emptyFaults() }
    },
    async close() {
      closing.abort()
      for (const client of clients) client.destroy()
      for (const socket of hanging) socket.destroy()
      hanging.clear()
      agent.destroy()
      server.closeAllConnections()
      await new Promise<void>((resolve, reject) =>
        server.close((error) => (error ? reject(error) : resolve())),
      )
    },
  }
}
