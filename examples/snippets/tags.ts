import middy from '@middy/core'
import type { Context } from 'aws-lambda'
import { createPublisher, scache, type WithCache } from 'scache'
import { getUser } from '../quickstart/users.js'

const cache = scache()

// Stands in for a query: the orders of one user.
const getOrders = async (userId: string): Promise<string[]> => [`order-1-of-${userId}`]

type Event = { op: 'orders' | 'team' | 'rename'; id: string; ids?: string[] }

export const handler = middy(async (event: Event, context: Context & WithCache) => {
  if (event.op === 'orders') {
    // No key or prefix names this list when user 7 changes: its tag does.
    return context.cache.getOrLoad(`orders:by-user:${event.id}`, () => getOrders(event.id), {
      tags: [`user:${event.id}`],
    })
  }
  if (event.op === 'team') {
    // A loader that learns what its value depends on tags it while loading.
    return context.cache.getOrLoad(`teams:${event.id}`, async (load) => {
      const members = event.ids ?? []
      load.tag(...members.map((id) => `user:${id}`))
      return Promise.all(members.map((id) => getUser(id)))
    })
  }
  // Evicts everything tagged user:<id> here, then in every container once published.
  await context.cache.invalidateTags(`user:${event.id}`)
  return { statusCode: 204 }
}).use(cache)

// A writer elsewhere: the same, without a cache of its own.
export const publisher = createPublisher()
export const onUserChanged = (id: string) => publisher.invalidateTags([`user:${id}`])
