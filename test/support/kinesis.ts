import { randomUUID } from 'node:crypto'
import {
  type KinesisClient,
  ListShardsCommand,
  MergeShardsCommand,
  PutRecordCommand,
  type PutRecordsCommandInput,
  type PutRecordsCommandOutput,
  type PutRecordsRequestEntry,
  type PutRecordsResultEntry,
  SplitShardCommand,
} from '@aws-sdk/client-kinesis'
import { afterAll, beforeAll } from 'vitest'
import { startLocalKinesis } from '../../infra/local/kinesis.js'
import {
  type Invalidation,
  type PollResult,
  type SkippedRecord,
  StreamReader,
  type StreamReaderOptions,
} from '../../src/index.js'

export interface LocalKinesis {
  readonly endpoint: string
  /** A client like the one scache builds by default, pointed at the emulator. */
  client(options?: { maxAttempts?: number }): KinesisClient
  /** Creates an ACTIVE stream, by default with a unique name, and returns the name. */
  createStream(shardCount?: number, name?: string): Promise<string>
  /** Writes raw bytes to the stream, as any PutRecord-capable writer could. */
  putRaw(stream: string, data: Uint8Array | string, partitionKey?: string): Promise<string>
  /** Ids of the stream's open shards. */
  openShards(stream: string): Promise<string[]>
  /** Splits the first open shard in two halves (SplitShard), and waits until the stream is ACTIVE. */
  split(stream: string): Promise<void>
  /** Merges the first two open shards (MergeShards), and waits until the stream is ACTIVE. */
  merge(stream: string): Promise<void>
  close(): Promise<void>
}

/**
 * The kinesalite of a test file: started before its tests, closed after them. The object can be
 * taken at module scope; each call goes to the running instance.
 */
export const useKinesis = (): LocalKinesis => {
  let started: LocalKinesis | undefined
  beforeAll(async () => {
    started = await startKinesis()
  })
  afterAll(() => started?.close())
  const running = (): LocalKinesis => {
    if (started === undefined) throw new Error('kinesalite is not running: use it inside a test')
    return started
  }
  return {
    get endpoint() {
      return running().endpoint
    },
    client: (options) => running().client(options),
    createStream: (shardCount, name) => running().createStream(shardCount, name),
    putRaw: (stream, data, partitionKey) => running().putRaw(stream, data, partitionKey),
    openShards: (stream) => running().openShards(stream),
    split: (stream) => running().split(stream),
    merge: (stream) => running().merge(stream),
    close: () => running().close(),
  }
}

/** Starts kinesalite in this process on a free loopback port, in memory. */
export const startKinesis = async (): Promise<LocalKinesis> => {
  const local = await startLocalKinesis()
  const admin = local.client({ maxAttempts: 3 })
  const openShards = async (stream: string): Promise<string[]> => {
    const { Shards = [] } = await admin.send(new ListShardsCommand({ StreamName: stream }))
    return Shards.filter(
      (shard) => shard.SequenceNumberRange?.EndingSequenceNumber === undefined,
    ).map((shard) => shard.ShardId ?? '')
  }
  return {
    endpoint: local.config.endpoint,
    client: local.client,
    async createStream(shardCount = 1, name = `scache-${randomUUID().slice(0, 8)}`) {
      await local.createStream(name, shardCount)
      return name
    },
    async putRaw(stream, data, partitionKey = randomUUID()) {
      const response = await admin.send(
        new PutRecordCommand({
          StreamName: stream,
          PartitionKey: partitionKey,
          Data: typeof data === 'string' ? new TextEncoder().encode(data) : data,
        }),
      )
      return response.ShardId ?? ''
    },
    openShards,
    async split(stream) {
      const { Shards = [] } = await admin.send(new ListShardsCommand({ StreamName: stream }))
      const shard = Shards.find((s) => s.SequenceNumberRange?.EndingSequenceNumber === undefined)
      const low = BigInt(shard?.HashKeyRange?.StartingHashKey ?? '0')
      const high = BigInt(shard?.HashKeyRange?.EndingHashKey ?? '0')
      await admin.send(
        new SplitShardCommand({
          StreamName: stream,
          ShardToSplit: shard?.ShardId,
          NewStartingHashKey: ((low + high + 1n) / 2n).toString(),
        }),
      )
      await local.untilActive(stream)
    },
    async merge(stream) {
      const [left, right] = await openShards(stream)
      await admin.send(
        new MergeShardsCommand({
          StreamName: stream,
          ShardToMerge: left,
          AdjacentShardToMerge: right,
        }),
      )
      await local.untilActive(stream)
    },
    close: local.close,
  }
}

/**
 * The read path the reader tests use, unless a test names one: `'lean'`, scache's default, or
 * `SCACHE_TEST_READ_PATH=sdk` to run them through the SDK client.
 */
export const TEST_READ_PATH: 'sdk' | 'lean' =
  process.env.SCACHE_TEST_READ_PATH === 'sdk' ? 'sdk' : 'lean'
/**
 * A client given test middleware (`countCommands`, `failCommand`, any `scacheTest…`) is read
 * through the SDK, the only path its middleware sees.
 */
const readPathOf = (client: KinesisClient): 'sdk' | 'lean' =>
  client.middlewareStack.identify().some((name) => name.startsWith('scacheTest'))
    ? 'sdk'
    : TEST_READ_PATH

/**
 * A StreamReader as the engine builds one (5 s skew margin, 5 pages per shard unless given, the
 * lean read path), the invalidations its polls applied, and `poll()`.
 */
export const newReader = (
  stream: string,
  client: KinesisClient,
  options: Partial<Omit<StreamReaderOptions, 'stream' | 'client'>> = {},
) => {
  const reader = new StreamReader({
    stream,
    client,
    clockSkewMs: 5_000,
    maxPagesPerShard: 5,
    readPath: readPathOf(client),
    ...options,
  })
  const applied: Invalidation[] = []
  return { reader, applied, poll: () => reader.poll({ apply: (i) => applied.push(i) }) }
}

/** Everything on the stream since `since` (ms), read by a fresh StreamReader in one poll. */
export const readInvalidations = async (
  kinesis: LocalKinesis,
  stream: string,
  since: number,
): Promise<{
  result: PollResult
  applied: Invalidation[]
  skipped: SkippedRecord[]
  keys: string[]
}> => {
  const reader = new StreamReader({
    stream,
    client: kinesis.client(),
    startAt: since,
    clockSkewMs: 0,
    maxPagesPerShard: 10,
    readPath: TEST_READ_PATH,
  })
  const applied: Invalidation[] = []
  const skipped: SkippedRecord[] = []
  const result = await reader.poll({
    apply: (i) => applied.push(i),
    onSkip: (s) => skipped.push(s),
  })
  return { result, applied, skipped, keys: applied.flatMap((i) => i.keys).sort() }
}

/** Counts the SDK commands a client sends, by name (`GetRecords`, `ListShards`, …). */
export const countCommands = (client: KinesisClient): Map<string, number> => {
  const counts = new Map<string, number>()
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const name = String(context.commandName).replace(/Command$/, '')
      counts.set(name, (counts.get(name) ?? 0) + 1)
      return next(args)
    },
    { step: 'initialize', name: 'scacheTestCountCommands' },
  )
  return counts
}

/**
 * Fault injection: makes Kinesis report the entries `fail` picks as failed
 * (`ProvisionedThroughputExceededException`), while the others really go to the emulator.
 */
export const failPutRecordsEntries = (
  client: KinesisClient,
  fail: (entry: PutRecordsRequestEntry, call: number) => boolean,
): void => {
  let call = 0
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName !== 'PutRecordsCommand') return next(args)
      call++
      const input = args.input as PutRecordsCommandInput
      const entries = input.Records ?? []
      const failing = entries.map((entry) => fail(entry, call))
      const passing = entries.filter((_, index) => !failing[index])
      const result =
        passing.length > 0
          ? await next({ ...args, input: { ...input, Records: passing } })
          : { output: { Records: [], FailedRecordCount: 0, $metadata: {} }, response: {} }
      const accepted = [...((result.output as PutRecordsCommandOutput).Records ?? [])]
      const records: PutRecordsResultEntry[] = failing.map((failed) =>
        failed
          ? {
              ErrorCode: 'ProvisionedThroughputExceededException',
              ErrorMessage: 'injected by the test',
            }
          : (accepted.shift() ?? {}),
      )
      return {
        ...result,
        output: {
          ...(result.output as PutRecordsCommandOutput),
          Records: records,
          FailedRecordCount: failing.filter(Boolean).length,
        },
      }
    },
    { step: 'initialize', name: 'scacheTestFailPutRecords' },
  )
}

/** Fault injection: every command named `command` fails with an error named `name`. */
export const failCommand = (
  client: KinesisClient,
  command: string,
  name: string,
  enabled: () => boolean = () => true,
): void => {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === `${command}Command` && enabled()) {
        const error = new Error(`injected ${name}`)
        error.name = name
        throw error
      }
      return next(args)
    },
    { step: 'initialize', name: `scacheTestFail${command}` },
  )
}
