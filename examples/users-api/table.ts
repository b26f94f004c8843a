import {
  DeleteItemCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
} from '@aws-sdk/client-dynamodb'

/** A user as the API returns it and the table stores it (partition key `id`). */
export interface User {
  readonly id: string
  readonly name: string
}

/** The users table. Region, credentials and endpoint come from the environment. */
export class UsersTable {
  readonly #client: DynamoDBClient
  readonly #name: string

  constructor(name: string, client = new DynamoDBClient({})) {
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
