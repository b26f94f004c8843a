import { isObject } from '../validate.js'
import { METRICS } from './emf.js'
import type { InvocationLog } from './log-line.js'

/**
 * What scache uses of a logger: Powertools for AWS Lambda's `Logger` fits, and so does any logger
 * with an `info(message, attributes)`. No Powertools package is imported.
 */
export interface LoggerLike {
  info(message: string, ...attributes: Record<string, unknown>[]): void
}

/** What scache uses of a metrics buffer: Powertools' `Metrics` fits (its middleware flushes it). */
export interface MetricsLike {
  addMetric(name: string, unit: 'Count' | 'Milliseconds', value: number): unknown
}

const hasMethod = (value: unknown, method: string): boolean =>
  isObject(value) && typeof value[method] === 'function'

export const isLogger = (value: unknown): value is LoggerLike => hasMethod(value, 'info')
export const isMetrics = (value: unknown): value is MetricsLike => hasMethod(value, 'addMetric')

/** The log line through a logger: its fields as attributes of one `scache` entry. */
export const logThrough =
  (logger: LoggerLike) =>
  (line: InvocationLog): void => {
    const { message, ...attributes } = line
    logger.info(message, attributes)
  }

/** The log line's numbers as metrics (`scache.hits`, `scache.streamMs`, …) in a metrics buffer. */
export const addMetrics = (metrics: MetricsLike, line: InvocationLog): void => {
  for (const [name, unit] of METRICS) {
    const value = line[name]
    if (typeof value === 'number') metrics.addMetric(`scache.${name}`, unit, value)
  }
}
