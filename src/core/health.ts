import type { SourceError, SourcePollResult } from '../source/index.js'

/**
 * Errors no retry fixes: the stream (or table) does not exist, the role may not read it, the
 * client has no region or credentials, or they are not valid here. An outage (throttles, 5xx,
 * timeouts, resets) is none of these.
 */
const MISCONFIGURATIONS = new Set([
  'ResourceNotFoundException',
  'AccessDeniedException',
  'AccessDenied',
  'UnrecognizedClientException',
  'InvalidSignatureException',
  'InvalidClientTokenId',
  'CredentialsProviderError',
  'MissingRegion',
])

/** Polls in a row failing with a misconfiguration before it counts as lasting. */
const LASTING_AFTER = 3

const isMisconfiguration = (error: SourceError): boolean =>
  MISCONFIGURATIONS.has(error.name) || /region is missing/i.test(error.message)

/**
 * What the source's failures say about the container's set-up. A wrong stream name, a missing
 * region or a role without read access turns caching off for good, which a log field per
 * invocation hides: after `LASTING_AFTER` polls in a row fail that way, the state is
 * `misconfigured` (in `stats()`), and `onMisconfigured` is told once per container. A poll that
 * succeeds makes it `ok` again; other failures are an outage (`failing`).
 */
export class SourceHealth {
  #state: 'ok' | 'failing' | 'misconfigured' = 'ok'
  #problem: string | undefined
  #misconfiguredPolls = 0
  #told = false
  readonly #onMisconfigured: (problem: string) => void

  constructor(onMisconfigured: (problem: string) => void) {
    this.#onMisconfigured = onMisconfigured
  }

  get state(): 'ok' | 'failing' | 'misconfigured' {
    return this.#state
  }

  /** The error behind a state other than `ok`, as `Name: message`. */
  get problem(): string | undefined {
    return this.#problem
  }

  heard(result: SourcePollResult): void {
    if (result.ok || result.restarted !== undefined) {
      this.#state = 'ok'
      this.#problem = undefined
      this.#misconfiguredPolls = 0
      return
    }
    const error = result.errors[0]
    this.#problem = error === undefined ? undefined : `${error.name}: ${error.message}`
    if (error !== undefined && result.errors.every(isMisconfiguration)) {
      this.#misconfiguredPolls++
      if (this.#misconfiguredPolls >= LASTING_AFTER) {
        this.#state = 'misconfigured'
        if (!this.#told) {
          this.#told = true
          this.#onMisconfigured(this.#problem ?? 'unknown')
        }
        return
      }
    } else this.#misconfiguredPolls = 0
    this.#state = 'failing'
  }
}
