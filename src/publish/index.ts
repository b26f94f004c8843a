export {
  createPublisher,
  type Publisher,
  type PublisherOptions,
  type PublishResult,
} from './publisher.js'
