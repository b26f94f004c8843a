export {
  createPublisher,
  type Publisher,
  type PublisherOptions,
  type PublishResult,
  toArray,
} from './publisher.js'
