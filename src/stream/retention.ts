import { streamParams } from './client.js'
import type { ReadClient } from './read-client.js'
import { Restart, type Tally } from './shards.js'

/** Kinesis keeps records at least 24 hours; a shorter gap never needs the stream's retention. */
const MIN_RETENTION_MS = 24 * 3_600_000
/** A gap this close to the retention period is treated as past it: trimming is not instantaneous. */
const RETENTION_MARGIN_MS = 10 * 60_000
/** The retention read is reused for this long (a gap rarely needs it twice), then read again. */
const RETENTION_CACHE_MS = 3_600_000
/** What the reader knows of the stream's retention: read only when a long gap needs it. */
export class Retention {
  readonly #client: ReadClient
  readonly #stream: string
  /** The stream's retention, from DescribeStreamSummary, and when it was read. */
  #retention: { readonly ms: number; readonly readAt: number } | undefined

  constructor(client: ReadClient, stream: string) {
    this.#client = client
    this.#stream = stream
  }

  /**
   * After a gap longer than the stream keeps records, records after our positions may have been
   * trimmed unread. The retention is read only when a gap reaches the 24-hour minimum, and reused
   * for an hour (it can be decreased at any time).
   */
  async check(gap: number, now: number, tally: Tally, signal: AbortSignal | undefined) {
    if (gap < MIN_RETENTION_MS - RETENTION_MARGIN_MS) return
    if (this.#retention === undefined || now - this.#retention.readAt >= RETENTION_CACHE_MS) {
      this.#retention = undefined
      tally.describeStreamSummary++
      try {
        const { StreamDescriptionSummary: summary } = await this.#client.describeStreamSummary(
          streamParams(this.#stream),
          signal,
        )
        const hours = summary?.RetentionPeriodHours
        if (typeof hours === 'number' && hours >= 24)
          this.#retention = { ms: hours * 3_600_000, readAt: now }
      } catch {
        // Unknown retention: assume the minimum, which at worst clears a cache that was fine.
      }
    }
    if (gap >= (this.#retention?.ms ?? MIN_RETENTION_MS) - RETENTION_MARGIN_MS)
      throw new Restart('retention')
  }
}
