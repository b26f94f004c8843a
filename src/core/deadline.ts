/**
 * `promise`, or a rejection with `onTimeout()` after `ms`: scache awaits no user code and no
 * network call without a deadline. The timer is cleared when the promise settles first, so none
 * is left to fire after a freeze.
 */
export const withDeadline = <T>(promise: Promise<T>, ms: number, onTimeout: () => Error) =>
  new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(onTimeout()), ms)
    promise.then(
      (value) => {
        clearTimeout(timer)
        resolve(value)
      },
      (error: unknown) => {
        clearTimeout(timer)
        reject(error)
      },
    )
  })
