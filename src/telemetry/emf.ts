import type { InvocationLog } from './log-line.js'

/** Where the metrics go in CloudWatch: a namespace, and dimension values for every line. */
export interface MetricsOptions {
  /** CloudWatch namespace. Default `'scache'`. */
  readonly namespace?: string
  /** Dimension name → value. Default `{ FunctionName: AWS_LAMBDA_FUNCTION_NAME }` (or `service: 'scache'`). */
  readonly dimensions?: Readonly<Record<string, string>>
}

type Unit = 'Milliseconds' | 'Count'

/** The numbers of the log line published as metrics, with their units. */
export const METRICS: readonly (readonly [keyof InvocationLog, Unit])[] = [
  ['streamMs', 'Milliseconds'],
  ['savedMs', 'Milliseconds'],
  ['netMs', 'Milliseconds'],
  ['loadMs', 'Milliseconds'],
  ['stalenessMs', 'Milliseconds'],
  ['hits', 'Count'],
  ['misses', 'Count'],
  ['bypassed', 'Count'],
  ['loads', 'Count'],
  ['evicted', 'Count'],
  ['records', 'Count'],
  ['skippedRecords', 'Count'],
  ['streamCalls', 'Count'],
]

/** Names a dimension may not take: they are the log line's own fields. */
export const reservedNames: ReadonlySet<string> = new Set([
  ...METRICS.map(([name]) => name),
  'message',
  'requestId',
  '_aws',
])

/**
 * The log line in CloudWatch Embedded Metric Format: the same JSON, with dimension values and an
 * `_aws` block that makes CloudWatch extract its numbers as metrics. No API call, no agent.
 */
export const toEmf = (
  line: InvocationLog,
  options: Required<MetricsOptions>,
  timestamp: number,
): InvocationLog & Readonly<Record<string, unknown>> => ({
  ...options.dimensions,
  ...line,
  _aws: {
    Timestamp: timestamp,
    CloudWatchMetrics: [
      {
        Namespace: options.namespace,
        Dimensions: [Object.keys(options.dimensions)],
        Metrics: METRICS.map(([Name, Unit]) => ({ Name, Unit })),
      },
    ],
  },
})
