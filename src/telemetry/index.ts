export type { ClearReason, InvocationLog, WarmReport } from './log-line.js'
export { round } from './log-line.js'
