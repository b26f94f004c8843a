import { keyspaceOf } from '../cache/index.js'

export interface CircuitBreakerOptions {
  /** Consecutive failed loads (errors or timeouts) that open a circuit. Default 5. */
  readonly failures?: number
  /** How long an open circuit refuses loads before letting one probe through, ms. Default 10,000. */
  readonly resetMs?: number
  /** One circuit per keyspace (`'keyspace'`, the default), or one for every load (`'global'`). */
  readonly scope?: 'keyspace' | 'global'
}

/**
 * Most circuits kept. A closed circuit with no failures is the default and is not kept at all;
 * past this many, the oldest is forgotten, which at worst lets a few more loads through to a
 * failing source: a bound on memory however many keyspaces come and go.
 */
export const MAX_CIRCUITS = 1_000

interface Circuit {
  /** Consecutive failures while closed. */
  failures: number
  /** When the circuit opened; undefined while closed. */
  openedAt: number | undefined
  /** A probe is out: every other load is refused until it settles. */
  probing: boolean
}

/** Leave to run one load, and what to report back when it settles. */
export interface Permit {
  readonly name: string
  readonly circuit: Circuit
  readonly probe: boolean
}

/**
 * Circuit breakers around loaders, so that a dead source is not hammered by every request:
 * `failures` consecutive failed loads open a circuit; while open, loads are refused at once; after
 * `resetMs` one probe is let through, which closes the circuit if it succeeds and opens it again
 * if it fails.
 */
export class CircuitBreaker {
  readonly #failures: number
  readonly #resetMs: number
  readonly #global: boolean
  readonly #now: () => number
  readonly #circuits = new Map<string, Circuit>()

  constructor(options: Required<CircuitBreakerOptions>, now: () => number = Date.now) {
    this.#failures = options.failures
    this.#resetMs = options.resetMs
    this.#global = options.scope === 'global'
    this.#now = now
  }

  /** The circuit `key`'s loads go through: its keyspace's, or the one global circuit. */
  circuitOf(key: string): string {
    return this.#global ? '*' : (keyspaceOf(key) ?? '')
  }

  /** A permit to load `key`, or undefined when its circuit is open (refuse the load). */
  admit(key: string): Permit | undefined {
    const name = this.circuitOf(key)
    let circuit = this.#circuits.get(name)
    if (circuit === undefined) {
      circuit = { failures: 0, openedAt: undefined, probing: false }
      // Not kept until it fails: a healthy keyspace costs nothing here.
      return { name, circuit, probe: false }
    }
    if (circuit.openedAt === undefined) return { name, circuit, probe: false }
    if (circuit.probing || this.#now() - circuit.openedAt < this.#resetMs) return undefined
    circuit.probing = true
    return { name, circuit, probe: true }
  }

  /** How long until `key`'s open circuit lets a probe through, ms (0 when it would now). */
  retryInMs(key: string): number {
    const openedAt = this.#circuits.get(this.circuitOf(key))?.openedAt
    return openedAt === undefined ? 0 : Math.max(0, openedAt + this.#resetMs - this.#now())
  }

  /** Circuits kept: those with failures, at most `MAX_CIRCUITS`. */
  get size(): number {
    return this.#circuits.size
  }

  succeeded({ name }: Permit): void {
    // Back to the default state (closed, no failures), which needs no entry.
    this.#circuits.delete(name)
  }

  failed({ name, circuit, probe }: Permit): void {
    // Loads admitted before the circuit was kept each hold a fresh one: count into the kept one.
    let kept = this.#circuits.get(name)
    if (kept === undefined) {
      if (this.#circuits.size >= MAX_CIRCUITS) {
        const oldest = this.#circuits.keys().next().value
        if (oldest !== undefined) this.#circuits.delete(oldest)
      }
      kept = circuit
      this.#circuits.set(name, kept)
    }
    if (probe) {
      kept.probing = false
      kept.openedAt = this.#now()
      return
    }
    kept.failures++
    if (kept.openedAt === undefined && kept.failures >= this.#failures) kept.openedAt = this.#now()
  }
}
