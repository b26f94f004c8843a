/** The example's database: in memory, with a read latency like a DynamoDB GetItem's. */
export interface User {
  readonly id: string
  readonly name: string
}

const table = new Map<string, User>()
const READ_LATENCY_MS = 20

export const getUser = async (id: string): Promise<User | undefined> => {
  await new Promise((resolve) => setTimeout(resolve, READ_LATENCY_MS))
  return table.get(id)
}

export const putUser = async (user: User): Promise<void> => {
  table.set(user.id, user)
}
