export { createDefaultClient, type DefaultClientOptions } from './client.js'
export {
  type PollOptions,
  type PollResult,
  type ReadRecord,
  type RestartReason,
  type SkippedRecord,
  type StreamError,
  StreamReader,
  type StreamReaderOptions,
} from './reader.js'
