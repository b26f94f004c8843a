import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { CircuitOpenError, REDACT_KEY_ENV, redactKey } from '../../src/errors.js'

const errorsModule = join(import.meta.dirname, '../../src/errors.ts')

/** `redactKey(key)` as a fresh process computes it, with `env` added to its environment. */
const redactedElsewhere = (key: string, env: Record<string, string> = {}): string => {
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => name !== REDACT_KEY_ENV),
  )
  const result = spawnSync(
    process.execPath,
    [
      '--import',
      'tsx',
      '--input-type=module',
      '-e',
      `import { redactKey } from ${JSON.stringify(errorsModule)}\nprocess.stdout.write(redactKey(${JSON.stringify(key)}))`,
    ],
    { encoding: 'utf8', env: { ...inherited, ...env }, timeout: 30_000 },
  )
  expect(result.status, result.stderr).toBe(0)
  return result.stdout
}

describe('redactKey', () => {
  it('is keyed: not the unkeyed SHA-256 prefix a dictionary of ids reverses', () => {
    const unkeyed = `#${createHash('sha256').update('users:42').digest('base64url').slice(0, 12)}`
    expect(redactKey('users:42')).not.toBe(unkeyed)
    expect(redactKey('users:42')).toMatch(/^#[\w-]{12}$/)
    // Stable within a process: lines about one key correlate.
    expect(redactKey('users:42')).toBe(redactKey('users:42'))
    expect(redactKey('users:43')).not.toBe(redactKey('users:42'))
  })

  it('differs between processes by default, and agrees across them with SCACHE_REDACT_KEY', () => {
    const a = redactedElsewhere('users:42')
    const b = redactedElsewhere('users:42')
    expect(a).toMatch(/^#[\w-]{12}$/)
    expect(a).not.toBe(b)
    const env = { [REDACT_KEY_ENV]: 'a-shared-secret-for-every-container' }
    const c = redactedElsewhere('users:42', env)
    expect(redactedElsewhere('users:42', env)).toBe(c)
    expect(c).not.toBe(a)
  })
})

describe('CircuitOpenError with redaction', () => {
  it('names neither the key nor its keyspace in the clear', () => {
    const error = new CircuitOpenError('patients:1234', 'patients', 5_000, true)
    expect(error.message).not.toMatch(/patients|1234/)
    expect(error.message).toContain(redactKey('patients:1234'))
    expect(error.message).toContain(redactKey('patients'))
    expect(error.key).toBe(redactKey('patients:1234'))
    expect(error.circuit).toBe(redactKey('patients'))
    expect(JSON.stringify({ ...error })).not.toMatch(/patients/)
    expect(error.retryInMs).toBe(5_000)
  })

  it('keeps the global and keyless circuits, which name nothing, and everything without redaction', () => {
    expect(new CircuitOpenError('users:1', '*', 1, true).circuit).toBe('*')
    expect(new CircuitOpenError('nokeyspace', '', 1, true).circuit).toBe('')
    const clear = new CircuitOpenError('users:1', 'users', 1)
    expect(clear.message).toContain('"users:1"')
    expect(clear.circuit).toBe('users')
  })
})
