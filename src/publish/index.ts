export {
  createPublisher,
  type PublishCallOptions,
  type Publisher,
  type PublisherOptions,
  type PublishResult,
  toArray,
} from './publisher.js'
