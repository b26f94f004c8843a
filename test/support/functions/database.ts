import type { InvocationLog } from '../../../src/index.js'

/** Where a test registers the "database" its function modules read (on `globalThis`). */
export const DATABASE = Symbol.for('scache.test.database')

export interface VersionedDatabase {
  /** The current version of a key. */
  read(key: string): number
  /** Where the function's log lines go. */
  log(line: InvocationLog): void
}
