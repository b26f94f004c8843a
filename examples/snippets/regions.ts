import { createPublisher, PublishError } from 'scache'

// Every region's containers read their own region's stream; a writer in any region puts each
// invalidation on all of them, each through a client of that region.
export const publisher = createPublisher({
  streams: [
    { name: 'invalidations', region: 'eu-west-1' },
    { name: 'arn:aws:kinesis:us-east-1:123456789012:stream/invalidations' }, // region from the ARN
  ],
})

export const updateUser = async (id: string): Promise<void> => {
  try {
    await publisher.invalidate(`users:${id}`)
  } catch (error) {
    // Every other region has it; retry the ones named (failedRegions, failedStreams).
    if (error instanceof PublishError) console.error(error.failedRegions, error.failedKeys)
    throw error
  }
}
