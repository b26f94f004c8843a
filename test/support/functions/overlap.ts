/**
 * A function that reports how many of its invocations ran at once in its container, and which
 * module instance it is: module scope is per container.
 */
let running = 0
let most = 0
const instance = Math.random()

export const handler = async (event: { ms: number }) => {
  running++
  most = Math.max(most, running)
  await new Promise((resolve) => setTimeout(resolve, event.ms))
  running--
  return { most, instance }
}
