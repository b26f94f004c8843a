/**
 * After this long without a successful poll, the stream's identity is checked before reading:
 * a stream cannot be deleted and created again faster, and a reader polling more often sees the
 * deletion itself (ResourceNotFoundException).
 */
export const IDENTITY_CHECK_GAP_MS = 60_000

/**
 * A reader whose position is a timestamp and which has listed no shard yet (a cold start's skip,
 * or a restart) has nothing to recognise its stream by: a stream deleted and created again under
 * the same name accepts the timestamp, past what was written to the old one. Such a position is
 * doubtful once it is old enough for that to have happened (`IDENTITY_CHECK_GAP_MS`), when the
 * clock stepped back past it, or when the stream was seen missing meanwhile: the reader then
 * restarts at now on its first listing, and keeps that listing as the stream's identity.
 */
export class UnlistedIdentity {
  /** The stream was not found before any shard was listed: it may come back as another one. */
  #seenMissing = false
  /**
   * When a skip or a restart last moved positions to a timestamp with no shard listed: values
   * cached since rest on that timestamp alone.
   */
  #since: number | undefined

  /** A skip moved positions to a timestamp at `now`, with no shard listed. */
  positioned(now: number): void {
    this.#since = now
  }

  /** A restart forgot every shard at `now`: what was seen of the old listing goes with it. */
  restarted(now: number): void {
    this.#since = now
    this.#seenMissing = false
  }

  /** The stream was not found while no shard was listed. */
  missing(): void {
    this.#seenMissing = true
  }

  /** A listing now stands for the stream's identity. */
  listed(): void {
    this.#since = undefined
    this.#seenMissing = false
  }

  doubtful(now: number): boolean {
    if (this.#since === undefined) return false
    const unlistedMs = now - this.#since
    return unlistedMs >= IDENTITY_CHECK_GAP_MS || unlistedMs < 0 || this.#seenMissing
  }
}
