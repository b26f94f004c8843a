import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { KinesisClient } from '@aws-sdk/client-kinesis'
import { afterEach, describe, expect, it, vi } from 'vitest'
import {
  configurationPage,
  firstSentence,
  optionTypesSource,
  readmeWithTables,
} from '../../../scripts/lib/options-docs.js'
import { streamsOf, UsageError } from '../../../src/cli/common.js'
import {
  defaults,
  integerOptions,
  optionDefinitions,
  resolveOptions,
} from '../../../src/core/options/index.js'
import { ScacheOptionsError } from '../../../src/errors.js'
import { createPublisher } from '../../../src/publish/index.js'

const root = join(import.meta.dirname, '../../..')
const client = new KinesisClient({ region: 'us-east-1' })
const stream = { name: 's', client }

const errorOf = (build: () => unknown): ScacheOptionsError => {
  try {
    build()
  } catch (error) {
    if (error instanceof ScacheOptionsError) return error
    throw error
  }
  throw new Error('no error thrown')
}

afterEach(() => {
  vi.unstubAllEnvs()
})

describe('the option definitions', () => {
  it('are what the options TSDoc says (npm run docs:options regenerates it)', () => {
    const source = readFileSync(join(root, 'src/core/options/types.ts'), 'utf8')
    expect(optionTypesSource(source)).toBe(source)
  })

  it("are the README's configuration and environment tables (npm run docs:options)", () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8')
    expect(readmeWithTables(readme)).toBe(readme)
  })

  it('are docs/configuration.md, one section an option (npm run docs:options)', () => {
    const page = readFileSync(join(root, 'docs/configuration.md'), 'utf8')
    expect(configurationPage(page)).toBe(page)
  })

  it("summarise each option in the README by its doc's first sentence", () => {
    expect(firstSentence('Most entries held. Each entry costs 36 bytes.')).toBe(
      'Most entries held.',
    )
    expect(firstSentence('Breakers: `failures` (5) consecutive (e.g. 3.5 s). Then more.')).toBe(
      'Breakers: `failures` (5) consecutive (e.g. 3.5 s).',
    )
    expect(firstSentence('Decoders, e.g. `[a.b]`. Next.')).toBe('Decoders, e.g. `[a.b]`.')
    expect(firstSentence('No full stop')).toBe('No full stop')
  })

  it('drive validation: each integer option accepts its range and default, and nothing past it', () => {
    for (const [name, definition] of Object.entries(integerOptions)) {
      const at = (value: number) => ({
        stream,
        [name]: value,
        // maxStalenessMs must be at least pollIntervalMs: keep the pair consistent.
        ...(name === 'pollIntervalMs' ? { maxStalenessMs: Math.max(value, 1) } : {}),
        ...(name === 'maxStalenessMs' ? { pollIntervalMs: 0 } : {}),
      })
      expect(resolveOptions(at(definition.min))[name as keyof typeof integerOptions]).toBe(
        definition.min,
      )
      expect(errorOf(() => resolveOptions(at(definition.min - 1))).option).toBe(name)
      if (definition.max < Number.MAX_SAFE_INTEGER)
        expect(errorOf(() => resolveOptions(at(definition.max + 1))).option).toBe(name)
      expect(resolveOptions({ stream })[name as keyof typeof integerOptions]).toBe(definition.value)
    }
    expect(defaults.pollIntervalMs).toBe(integerOptions.pollIntervalMs.value)
  })

  it('reject an option the table does not define', () => {
    expect(errorOf(() => resolveOptions({ stream, pollIntervalMS: 5 })).option).toBe(
      'pollIntervalMS',
    )
    expect(Object.keys(optionDefinitions)).toContain('pollIntervalMs')
  })

  it('take defaults from their environment variables; code wins; a bad variable is named', () => {
    for (const [name, definition] of Object.entries(integerOptions)) {
      if (definition.env === undefined) continue
      vi.stubEnv(definition.env, String(definition.min + 1))
      const extra =
        name === 'pollIntervalMs'
          ? { maxStalenessMs: 10_000 }
          : name === 'maxStalenessMs'
            ? { pollIntervalMs: 0 }
            : {}
      const key = name as keyof typeof integerOptions
      expect(resolveOptions({ stream, ...extra })[key]).toBe(definition.min + 1)
      expect(resolveOptions({ stream, ...extra, [name]: definition.min })[key]).toBe(definition.min)
      vi.stubEnv(definition.env, 'soon')
      expect(errorOf(() => resolveOptions({ stream })).option).toBe(definition.env)
      vi.stubEnv(definition.env, String(definition.min - 1))
      expect(errorOf(() => resolveOptions({ stream, ...extra })).option).toBe(definition.env)
      vi.stubEnv(definition.env, undefined)
    }
    vi.stubEnv('SCACHE_ON_STREAM_ERROR', 'serve-stale')
    expect(resolveOptions({ stream }).onStreamError).toBe('serve-stale')
    vi.stubEnv('SCACHE_ON_STREAM_ERROR', 'stale')
    expect(errorOf(() => resolveOptions({ stream })).option).toBe('SCACHE_ON_STREAM_ERROR')
    vi.stubEnv('SCACHE_ON_STREAM_ERROR', undefined)
    vi.stubEnv('SCACHE_REDACT_KEYS', 'true')
    expect(resolveOptions({ stream }).redactKeys).toBe(true)
    expect(resolveOptions({ stream, redactKeys: false }).redactKeys).toBe(false)
    vi.stubEnv('SCACHE_REDACT_KEYS', 'yes')
    expect(errorOf(() => resolveOptions({ stream })).option).toBe('SCACHE_REDACT_KEYS')
    vi.stubEnv('SCACHE_REDACT_KEYS', undefined)
    vi.stubEnv('SCACHE_SECRET', 'a secret of 24 characters')
    expect(resolveOptions({ stream }).secrets).toEqual(['a secret of 24 characters'])
    vi.stubEnv('SCACHE_SECRET', 'short')
    expect(errorOf(() => resolveOptions({ stream })).option).toBe('SCACHE_SECRET')
  })

  it('read the stream from one variable or the other, never both', () => {
    vi.stubEnv('SCACHE_STREAM_NAME', 'one')
    vi.stubEnv('SCACHE_STREAM_NAMES', 'a,b')
    expect(errorOf(() => resolveOptions({})).option).toBe('SCACHE_STREAM_NAMES')
    // Given in code, the variables are not read at all.
    expect(resolveOptions({ stream }).streamNames).toEqual(['s'])
    vi.stubEnv('SCACHE_STREAM_NAME', '')
    expect(resolveOptions({}).streamNames).toEqual(['a', 'b'])
    vi.stubEnv('SCACHE_STREAM_NAMES', 'a,,b')
    expect(errorOf(() => resolveOptions({})).option).toBe('SCACHE_STREAM_NAMES')
  })

  it('are read by one rule in the middleware, the publisher and the CLI', () => {
    vi.stubEnv('SCACHE_STREAM_NAME', undefined)
    vi.stubEnv('SCACHE_STREAM_NAMES', 'a, b')
    expect(resolveOptions({}).streamNames).toEqual(['a', 'b'])
    expect(streamsOf(undefined, process.env)).toEqual(['a', 'b'])
    // The publisher writes every replica the environment names.
    expect(() => createPublisher({ client })).not.toThrow()
    vi.stubEnv('SCACHE_STREAM_NAME', 'one')
    expect(errorOf(() => resolveOptions({})).option).toBe('SCACHE_STREAM_NAMES')
    expect(errorOf(() => createPublisher({ client })).option).toBe('SCACHE_STREAM_NAMES')
    expect(() => streamsOf(undefined, process.env)).toThrow(UsageError)
    vi.stubEnv('SCACHE_STREAM_NAMES', undefined)
    vi.stubEnv('SCACHE_SECRET', 'short')
    expect(errorOf(() => createPublisher({ client })).option).toBe('SCACHE_SECRET')
  })
})
