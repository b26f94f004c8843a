export type { ClearReason, InvocationLog } from './log-line.js'
export { round } from './log-line.js'
