import { isObject } from '../validate.js'
import type { InvocationLog } from './log-line.js'

/**
 * What scache uses of an AWS X-Ray segment or subsegment. Those of Powertools for AWS Lambda's
 * `Tracer` and of `aws-xray-sdk-core` fit; no tracing package is imported.
 */
export interface SegmentLike {
  addNewSubsegment(name: string): SubsegmentLike
}

export interface SubsegmentLike extends SegmentLike {
  addAnnotation(key: string, value: string | number | boolean): void
  addMetadata(key: string, value: unknown, namespace?: string): void
  addError(error: Error): void
  close(): void
}

/** What scache uses of a tracer: Powertools' `Tracer` fits, and so does `aws-xray-sdk-core`. */
export interface TracerLike {
  getSegment(): SegmentLike | undefined
  isTracingEnabled?(): boolean
}

export const isTracer = (value: unknown): value is TracerLike =>
  isObject(value) && typeof value.getSegment === 'function'

/** Tracing is telemetry: a tracer that throws must never fail a request. */
const safely = <T>(trace: () => T): T | undefined => {
  try {
    return trace()
  } catch {
    return undefined
  }
}

/**
 * An invocation as scache sees it, as an X-Ray subsegment `scache` (from the middleware's before
 * to its after) under the current segment, with a `scache.poll` child for the time on the stream.
 * Its annotations (`scache_hits`, `scache_bypassed`, `scache_cleared`, …) are indexed, so traces
 * can be searched with filter expressions such as `annotation.scache_bypassed > 0`.
 */
export class InvocationSpan {
  readonly #segment: SubsegmentLike

  private constructor(segment: SubsegmentLike) {
    this.#segment = segment
  }

  /** The span of this invocation, or none when tracing is off or there is no segment. */
  static open(tracer: TracerLike): InvocationSpan | undefined {
    return safely(() => {
      if (tracer.isTracingEnabled?.() === false) return undefined
      const segment = tracer.getSegment()?.addNewSubsegment('scache')
      return segment === undefined ? undefined : new InvocationSpan(segment)
    })
  }

  /**
   * Times `poll` as a `scache.poll` subsegment, annotated with what it read; a failure is its
   * error. A poll `joined` (another concurrent invocation's, waited for) is annotated
   * `scache_poll_joined` instead: its reads are on the subsegment of the invocation that ran it,
   * and counting them twice would overstate the stream's traffic.
   */
  async poll<T extends PollSummary>(poll: () => Promise<T>, joined = false): Promise<T> {
    const segment = safely(() => this.#segment.addNewSubsegment('scache.poll'))
    const result = await poll()
    if (segment === undefined) return result
    safely(() => {
      if (joined) {
        segment.addAnnotation('scache_poll_joined', true)
        segment.close()
        return
      }
      segment.addAnnotation('scache_records', result.records)
      segment.addAnnotation('scache_shards', result.shardsPolled)
      if (result.throttled) segment.addAnnotation('scache_throttled', true)
      const [error] = result.errors
      if (error !== undefined) segment.addError(Object.assign(new Error(error.message), error))
      segment.close()
    })
    return result
  }

  /** Annotates the span with the invocation's log line and closes it. */
  end(line: InvocationLog): void {
    safely(() => {
      const segment = this.#segment
      segment.addAnnotation('scache_hits', line.hits)
      segment.addAnnotation('scache_misses', line.misses)
      segment.addAnnotation('scache_bypassed', line.bypassed)
      segment.addAnnotation('scache_evicted', line.evicted)
      segment.addAnnotation('scache_polled', line.polled)
      segment.addAnnotation('scache_staleness_ms', line.stalenessMs)
      if (line.cleared !== undefined) segment.addAnnotation('scache_cleared', line.cleared)
      if (line.streamError !== undefined) segment.addAnnotation('scache_stream_error', true)
      segment.addMetadata('invocation', line, 'scache')
      segment.close()
    })
  }
}

/** The parts of a poll's result a span records. */
export interface PollSummary {
  readonly records: number
  readonly shardsPolled: number
  readonly throttled: boolean
  readonly errors: readonly { readonly name: string; readonly message: string }[]
}
