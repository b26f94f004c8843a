import {
  DeleteItemCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
} from '@aws-sdk/client-dynamodb'
import { NodeHttpHandler } from '@smithy/node-http-handler'

/** A user as the API returns it and the table stores it (partition key `id`). */
export interface User {
  readonly id: string
  readonly name: string
}

/**
 * A client that gives up on a hung table: 500 ms to connect, 1 s per attempt, two attempts, so
 * a request fails well within the function's timeout (the SDK's default waits indefinitely).
 */
export const tableClient = (): DynamoDBClient =>
  new DynamoDBClient({
    maxAttempts: 2,
    requestHandler: new NodeHttpHandler({
      connectionTimeout: 500,
      requestTimeout: 1_000,
      throwOnRequestTimeout: true,
    }),
  })

/** The users table. Region, credentials and endpoint come from the environment. */
export class UsersTable {
  readonly #client: DynamoDBClient
  readonly #name: string

  constructor(name: string, client = tableClient()) {
    this.#name = name
    this.#client = client
  }

  async get(id: string): Promise<User | undefined> {
    const { Item } = await this.#client.send(
      // Strongly consistent: a read that follows an invalidation must see the write behind it.
      new GetItemCommand({ TableName: this.#name, Key: { id: { S: id } }, ConsistentRead: true }),
    )
    return Item?.name?.S === undefined ? undefined : { id, name: Item.name.S }
  }

  async put(user: User): Promise<void> {
    await this.#client.send(
      new PutItemCommand({
        TableName: this.#name,
        Item: { id: { S: user.id }, name: { S: user.name } },
      }),
    )
  }

  async delete(id: string): Promise<void> {
    await this.#client.send(
      new DeleteItemCommand({ TableName: this.#name, Key: { id: { S: id } } }),
    )
  }
}
