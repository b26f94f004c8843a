import type { Publisher } from '../../src/index.js'

/**
 * The source of truth of the randomized consistency tests: a version per key, and when each
 * version's invalidation was acknowledged, against which every value served is checked.
 */
export class VersionedSource {
  readonly versions = new Map<string, number>()
  readonly acks = new Map<string, { version: number; at: number }[]>()

  read(key: string): number {
    return this.versions.get(key) ?? 0
  }

  async write(key: string, publisher: Publisher): Promise<void> {
    const version = this.read(key) + 1
    this.versions.set(key, version)
    await publisher.invalidate(key)
    const acks = this.acks.get(key) ?? []
    acks.push({ version, at: Date.now() })
    this.acks.set(key, acks)
  }

  /** When the first version newer than `version` was acknowledged, if one was. */
  overtakenAt(key: string, version: number): number | undefined {
    return this.acks.get(key)?.find((ack) => ack.version > version)?.at
  }
}
