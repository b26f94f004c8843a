import type {
  DescribeStreamSummaryInput,
  DescribeStreamSummaryOutput,
  GetRecordsInput,
  GetRecordsOutput,
  GetShardIteratorInput,
  GetShardIteratorOutput,
  KinesisClient,
  ListShardsInput,
  ListShardsOutput,
} from '@aws-sdk/client-kinesis'

/**
 * The four calls a reader makes. `sdkReadClient` sends them through a `KinesisClient` (its
 * middleware, handler and signer); `LeanReadClient` (lean.ts) signs and sends them itself.
 */
export interface ReadClient {
  getRecords(
    input: GetRecordsInput,
    signal: AbortSignal | undefined,
  ): Promise<Partial<GetRecordsOutput>>
  getShardIterator(
    input: GetShardIteratorInput,
    signal: AbortSignal | undefined,
  ): Promise<GetShardIteratorOutput>
  listShards(input: ListShardsInput, signal: AbortSignal | undefined): Promise<ListShardsOutput>
  describeStreamSummary(
    input: DescribeStreamSummaryInput,
    signal: AbortSignal | undefined,
  ): Promise<Partial<DescribeStreamSummaryOutput>>
}

/**
 * How a reader sends its calls: `'sdk'` through the client's `send` (its middleware, such as
 * X-Ray's, sees them), `'lean'` signed with the client's own signer and credentials and sent to
 * the endpoint it resolves, over a keep-alive agent of scache's, bypassing the middleware stack.
 */
export type ReadPath = 'sdk' | 'lean'

type Sdk = typeof import('@aws-sdk/client-kinesis')
let sdk: Promise<Sdk> | undefined
/** The SDK's commands, loaded on first use: a lean reader never needs them. */
export const kinesisSdk = (): Promise<Sdk> => {
  sdk ??= import('@aws-sdk/client-kinesis')
  return sdk
}

/** The reader's calls through the SDK client, as given. */
export const sdkReadClient = (client: KinesisClient): ReadClient => ({
  async getRecords(input, signal) {
    const { GetRecordsCommand } = await kinesisSdk()
    return client.send(new GetRecordsCommand(input), { abortSignal: signal })
  },
  async getShardIterator(input, signal) {
    const { GetShardIteratorCommand } = await kinesisSdk()
    return client.send(new GetShardIteratorCommand(input), { abortSignal: signal })
  },
  async listShards(input, signal) {
    const { ListShardsCommand } = await kinesisSdk()
    return client.send(new ListShardsCommand(input), { abortSignal: signal })
  },
  async describeStreamSummary(input, signal) {
    const { DescribeStreamSummaryCommand } = await kinesisSdk()
    return client.send(new DescribeStreamSummaryCommand(input), { abortSignal: signal })
  },
})
