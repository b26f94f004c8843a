/**
 * Virtual time for the simulation: one clock for the whole world, and timers that fire in it.
 * While a run is installed, the global `setTimeout` and `clearTimeout` (which scache's poll
 * budget and load deadlines use), `Date.now`, `performance.now` and `Math.random` are this
 * world's; the real ones come back when
 * it is uninstalled. Vitest keeps its own references to the real timers, so a test runner is not
 * affected.
 *
 * The world advances only when every task that can run has run: after each timer, the microtask
 * queue is drained by one real `setImmediate` (nothing in a run does real I/O), then the clock
 * moves to the next timer. Ties fire in the order they were set, so a run replays exactly.
 */

interface Timer {
  readonly t: number
  readonly n: number
  readonly callback: () => void
  cancelled: boolean
}

const realSetImmediate = setImmediate
const realSetTimeout = globalThis.setTimeout
const realClearTimeout = globalThis.clearTimeout
const realDateNow = Date.now
const realRandom = Math.random
const realPerformanceNow = performance.now

const drained = (): Promise<void> => new Promise((resolve) => realSetImmediate(resolve))

export class VirtualTime {
  #now: number
  readonly #startMs: number
  #n = 0
  /** Timers fired so far. */
  fired = 0
  readonly #heap: Timer[] = []
  #installed = false

  constructor(startMs: number) {
    this.#now = startMs
    this.#startMs = startMs
  }

  get now(): number {
    return this.#now
  }

  /** Calls `callback` `ms` from now (virtual). */
  setTimer(callback: () => void, ms: number): Timer {
    const timer: Timer = {
      t: this.#now + Math.max(0, Number.isFinite(ms) ? ms : 0),
      n: this.#n++,
      callback,
      cancelled: false,
    }
    this.#push(timer)
    return timer
  }

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.setTimer(resolve, ms))
  }

  /**
   * Makes the global timers, `Date.now` and `Math.random` (the publisher's retry jitter) virtual
   * and seeded until `uninstall`.
   */
  install(random: () => number): void {
    Math.random = random
    this.#installed = true
    const fake = ((callback: (...args: unknown[]) => void, ms?: number, ...args: unknown[]) =>
      this.setTimer(() => callback(...args), ms ?? 0)) as unknown as typeof setTimeout
    globalThis.setTimeout = fake
    globalThis.clearTimeout = ((timer: unknown) => {
      if (timer !== null && typeof timer === 'object' && 'cancelled' in timer)
        (timer as Timer).cancelled = true
      else realClearTimeout(timer as Parameters<typeof clearTimeout>[0])
    }) as typeof clearTimeout
    Date.now = () => Math.floor(this.#now)
    // Time measured in CPU (the reader's turn-taking while decoding) is virtual as well: no CPU
    // time passes in a run, so a run does the same at any machine's speed.
    performance.now = () => this.#now - this.#startMs
  }

  uninstall(): void {
    if (!this.#installed) return
    this.#installed = false
    globalThis.setTimeout = realSetTimeout
    globalThis.clearTimeout = realClearTimeout
    Date.now = realDateNow
    Math.random = realRandom
    performance.now = realPerformanceNow
  }

  /**
   * Runs timers in time order until none is left before `untilMs` or `done()` holds; returns
   * false when it stopped because nothing was left to run (a deadlock, if work was pending).
   */
  async run(untilMs: number, done: () => boolean): Promise<boolean> {
    for (;;) {
      await drained()
      if (done()) return true
      const timer = this.#pop()
      if (timer === undefined) return false
      if (timer.t > untilMs) {
        this.#push(timer)
        return true
      }
      this.#now = Math.max(this.#now, timer.t)
      this.fired++
      timer.callback()
    }
  }

  #pop(): Timer | undefined {
    for (;;) {
      const heap = this.#heap
      const top = heap[0]
      const last = heap.pop()
      if (top === undefined || last === undefined) return undefined
      if (heap.length > 0) {
        heap[0] = last
        let i = 0
        for (;;) {
          const left = 2 * i + 1
          const right = left + 1
          let least = i
          if (left < heap.length && this.#less(left, least)) least = left
          if (right < heap.length && this.#less(right, least)) least = right
          if (least === i) break
          this.#swap(i, least)
          i = least
        }
      }
      if (!top.cancelled) return top
    }
  }

  #push(timer: Timer): void {
    const heap = this.#heap
    heap.push(timer)
    let i = heap.length - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (!this.#less(i, parent)) break
      this.#swap(i, parent)
      i = parent
    }
  }

  #less(a: number, b: number): boolean {
    const x = this.#heap[a] as Timer
    const y = this.#heap[b] as Timer
    return x.t < y.t || (x.t === y.t && x.n < y.n)
  }

  #swap(a: number, b: number): void {
    const heap = this.#heap
    const x = heap[a] as Timer
    heap[a] = heap[b] as Timer
    heap[b] = x
  }
}
