export {
  type Acknowledged,
  createPublisher,
  type PublishCallOptions,
  type Publisher,
  type PublisherOptions,
  type PublishResult,
  type StreamTarget,
  toArray,
} from './publisher.js'
