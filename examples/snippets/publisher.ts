import { createPublisher, PublishError } from 'scache'

const publisher = createPublisher({ streamName: 'invalidations' })

export const onUsersChanged = async (ids: readonly string[]): Promise<void> => {
  try {
    // Many keys travel in one record; resolves once Kinesis acknowledged every record.
    await publisher.invalidate(ids.map((id) => `users:${id}`))
  } catch (error) {
    // Some records were not acknowledged after every retry: these invalidations may not reach
    // other containers. Retry, or fail the write that needed them.
    if (error instanceof PublishError) console.error(error.failedKeys, error.errorCodes)
    throw error
  }
}

export const onOrdersReset = () => publisher.invalidatePrefix('orders:') // every key starting with 'orders:'
export const onDeploy = () => publisher.invalidateAll()
