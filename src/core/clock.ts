const settled = Promise.resolve()

/**
 * Calls `forget` once the code running now (and the microtasks already queued) has finished. A
 * promise reaction, not `queueMicrotask`: on Node 20 that wraps each call in an AsyncResource,
 * twice the cost.
 */
export const afterThisRun = (forget: () => void): void => {
  settled.then(forget)
}

/** The clocks `perRunClock` made: their readers may keep what they derive from them per run. */
const perRun = new WeakSet<() => number>()

/** Whether `now` is a clock from `perRunClock`: it cannot move within a run of code. */
export const readsOncePerRun = (now: () => number): boolean => perRun.has(now)

/**
 * `Date.now()`, read at most once per run of JavaScript: the first read caches it, and a
 * microtask forgets it once the code running now (and the microtasks already queued) has
 * finished. A run of code cannot see time pass anyway, so a loop of hits shares one clock read,
 * where each `Date.now()` costs more than a whole lru-cache `get`.
 *
 * The value can be as old as that run of code is long, never older: the microtask queue drains
 * before the event loop turns, so every I/O callback, timer, and a thaw after a Lambda freeze
 * (the process is frozen while it waits in the event loop) reads the clock afresh.
 */
export const perRunClock = (): (() => number) => {
  let now: number | undefined
  const forget = (): void => {
    now = undefined
  }
  const read = (): number => {
    // Read through `Date`, not a saved `Date.now`: a test that fakes `Date` fakes this too.
    now = Date.now()
    afterThisRun(forget)
    return now
  }
  // The read is out of line: what every hit runs is one comparison, small enough to inline.
  const clock = () => (now !== undefined ? now : read())
  perRun.add(clock)
  return clock
}
