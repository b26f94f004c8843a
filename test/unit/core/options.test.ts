import { KinesisClient } from '@aws-sdk/client-kinesis'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { createScache, defaults, Scache, type ScacheOptions } from '../../../src/core/index.js'
import { resolveOptions } from '../../../src/core/options/index.js'
import { ScacheError, ScacheOptionsError } from '../../../src/errors.js'
import { scache } from '../../../src/middleware/index.js'
import { createPublisher } from '../../../src/publish/index.js'
import { dynamoDbDecoder } from '../../../src/record/dynamodb.js'

// A real client that is never used: constructing a Scache sends nothing.
const client = new KinesisClient({ region: 'us-east-1' })
const stream = { name: 's', client }

/** Every way options reach the validator. */
const entryPoints: readonly [string, (options: unknown) => unknown][] = [
  ['resolveOptions', (options) => resolveOptions(options)],
  ['new Scache', (options) => new Scache(options as ScacheOptions)],
  ['createScache', (options) => createScache(options as ScacheOptions)],
  ['scache middleware', (options) => scache(options as ScacheOptions)],
]

const thrown = (build: () => unknown): unknown => {
  try {
    build()
  } catch (error) {
    return error
  }
  return undefined
}

const expectOptionsError = (build: () => unknown, option: string, why: RegExp): void => {
  const error = thrown(build)
  expect(error).toBeInstanceOf(ScacheOptionsError)
  expect(error).toBeInstanceOf(ScacheError)
  const optionsError = error as ScacheOptionsError
  expect(optionsError.name).toBe('ScacheOptionsError')
  expect(optionsError.option).toBe(option)
  expect(optionsError.message).toContain(`\`${option}\``)
  expect(optionsError.message).toMatch(why)
  expect(optionsError.cause).toEqual({ package: 'scache', option })
}

afterEach(() => {
  vi.unstubAllEnvs()
})

describe('options validation at construction', () => {
  const invalid: readonly [string, unknown, string, RegExp][] = [
    ['unknown top-level key', { stream, maxEntriez: 5 }, 'maxEntriez', /is not an option/],
    ['unknown stream key', { stream: { ...stream, nme: 'x' } }, 'stream.nme', /is not an option/],
    ['unknown ttl key', { stream, ttl: { min: 1, maxMs: 2 } }, 'ttl.min', /is not an option/],
    [
      'unknown keyspace key',
      { stream, keyspaces: { users: { tttl: { minMs: 1, maxMs: 2 } } } },
      'keyspaces.users.tttl',
      /is not an option/,
    ],
    ['stream not an object', { stream: 'name' }, 'stream', /must be \{ name/],
    [
      'stream.client not a client',
      { stream: { name: 's', client: {} } },
      'stream.client',
      /KinesisClient/,
    ],
    [
      'stream.readPath unknown',
      { stream: { ...stream, readPath: 'fast' } },
      'stream.readPath',
      /'sdk' or 'lean'/,
    ],
    [
      'stream.readPath lean with a client double',
      { stream: { name: 's', client: { send: async () => ({}) }, readPath: 'lean' } },
      'stream.readPath',
      /KinesisClient of @aws-sdk/,
    ],
    [
      'ttl.minMs 0',
      { stream, ttl: { minMs: 0, maxMs: 10 } },
      'ttl.minMs',
      /must be an integer from 1/,
    ],
    [
      'ttl.minMs negative',
      { stream, ttl: { minMs: -5, maxMs: 10 } },
      'ttl.minMs',
      /must be an integer/,
    ],
    ['ttl.minMs non-integer', { stream, ttl: { minMs: 1.5, maxMs: 10 } }, 'ttl.minMs', /got 1\.5/],
    ['ttl.minMs a string', { stream, ttl: { minMs: '10', maxMs: 10 } }, 'ttl.minMs', /got "10"/],
    [
      'ttl.maxMs below minMs',
      { stream, ttl: { minMs: 10, maxMs: 9 } },
      'ttl.maxMs',
      /at least ttl\.minMs/,
    ],
    ['ttl not an object', { stream, ttl: 10 }, 'ttl', /must be \{ minMs, maxMs \}/],
    [
      'keyspace ttl.maxMs below minMs',
      { stream, keyspaces: { users: { ttl: { minMs: 10, maxMs: 9 } } } },
      'keyspaces.users.ttl.maxMs',
      /at least keyspaces\.users\.ttl\.minMs/,
    ],
    [
      'keyspace maxEntries 0',
      { stream, keyspaces: { users: { maxEntries: 0 } } },
      'keyspaces.users.maxEntries',
      /must be an integer from 1/,
    ],
    ['maxEntries 0', { stream, maxEntries: 0 }, 'maxEntries', /must be an integer from 1/],
    ['maxBytes tiny', { stream, maxBytes: 100 }, 'maxBytes', /must be an integer from 1024/],
    [
      'keyspace name with ":"',
      { stream, keyspaces: { 'a:b': {} } },
      'keyspaces.a:b',
      /without ":"/,
    ],
    ['empty keyspace name', { stream, keyspaces: { '': {} } }, 'keyspaces.', /non-empty/],
    [
      'keyspace not an object',
      { stream, keyspaces: { users: 5 } },
      'keyspaces.users',
      /must be \{/,
    ],
    ['pollIntervalMs negative', { stream, pollIntervalMs: -1 }, 'pollIntervalMs', /from 0/],
    ['pollBudgetMs too small', { stream, pollBudgetMs: 1 }, 'pollBudgetMs', /from 10/],
    [
      'maxStalenessMs below pollIntervalMs',
      { stream, pollIntervalMs: 2_000, maxStalenessMs: 1_999 },
      'maxStalenessMs',
      /at least pollIntervalMs \(2000\)/,
    ],
    [
      'maxStalenessMs below the default pollIntervalMs',
      { stream, maxStalenessMs: defaults.pollIntervalMs - 1 },
      'maxStalenessMs',
      /at least pollIntervalMs/,
    ],
    [
      'onStreamError "ignore"',
      { stream, onStreamError: 'ignore' },
      'onStreamError',
      /got "ignore"/,
    ],
    ['clockSkewMs negative', { stream, clockSkewMs: -1 }, 'clockSkewMs', /must be an integer/],
    ['maxPagesPerShard 0', { stream, maxPagesPerShard: 0 }, 'maxPagesPerShard', /from 1/],
    [
      'negativeTtl without maxMs',
      { stream, negativeTtl: { minMs: 5 } },
      'negativeTtl.maxMs',
      /integer/,
    ],
    [
      'keyspace negativeTtl reversed',
      { stream, keyspaces: { users: { negativeTtl: { minMs: 9, maxMs: 5 } } } },
      'keyspaces.users.negativeTtl.maxMs',
      /at least/,
    ],
    ['warm without load', { stream, warm: { keys: ['a:1'] } }, 'warm.load', /function/],
    [
      'warm keys not strings',
      { stream, warm: { keys: [1], load: () => ({}) } },
      'warm.keys',
      /array/,
    ],
    [
      'warm unknown field',
      { stream, warm: { keys: [], load: () => ({}), ttl: 1 } },
      'warm.ttl',
      /is not an option/,
    ],
    ['staleIfErrorMs negative', { stream, staleIfErrorMs: -1 }, 'staleIfErrorMs', /from 0/],
    [
      'circuitBreaker failures 0',
      { stream, circuitBreaker: { failures: 0 } },
      'circuitBreaker.failures',
      /from 1/,
    ],
    [
      'circuitBreaker scope',
      { stream, circuitBreaker: { scope: 'table' } },
      'circuitBreaker.scope',
      /'keyspace' or 'global'/,
    ],
    ['circuitBreaker not an object', { stream, circuitBreaker: true }, 'circuitBreaker', /must be/],
    ['decoders not an array', { stream, decoders: {} }, 'decoders', /array of record decoders/],
    ['decoders without decode', { stream, decoders: [{ name: 'x' }] }, 'decoders', /array/],
    ['secret too short', { stream, secret: 'short' }, 'secret', /at least 16/],
    ['secret an empty list', { stream, secret: [] }, 'secret', /non-empty/],
    ['stream.names empty', { stream: { names: [] } }, 'stream.names', /non-empty array/],
    [
      'stream.names and name',
      { stream: { name: 'a', names: ['b'] } },
      'stream.names',
      /instead of/,
    ],
    ['metrics a string', { stream, metrics: 'on' }, 'metrics', /boolean/],
    [
      'metrics namespace empty',
      { stream, metrics: { namespace: '' } },
      'metrics.namespace',
      /1 to 255/,
    ],
    [
      'metrics no dimensions',
      { stream, metrics: { dimensions: {} } },
      'metrics.dimensions',
      /1 to 30/,
    ],
    [
      'metrics dimension clash',
      { stream, metrics: { dimensions: { hits: 'x' } } },
      'metrics.dimensions',
      /"hits"/,
    ],
    ['redactKeys a string', { stream, redactKeys: 'yes' }, 'redactKeys', /boolean/],
    ['loadTimeoutMs 0', { stream, loadTimeoutMs: 0 }, 'loadTimeoutMs', /from 1 to 900000/],
    [
      'loadTimeoutMs past 15 minutes',
      { stream, loadTimeoutMs: 900_001 },
      'loadTimeoutMs',
      /to 900000/,
    ],
    ['loadTimeoutMs a string', { stream, loadTimeoutMs: '5' }, 'loadTimeoutMs', /got "5"/],
    [
      'log "yes"',
      { stream, log: 'yes' },
      'log',
      /a boolean, a function or a logger with info\(\) \(got "yes"\)/,
    ],
    ['sizeOf not a function', { stream, sizeOf: 42 }, 'sizeOf', /must be a function \(got 42\)/],
    [
      'tracer without getSegment',
      { stream, tracer: { putAnnotation() {} } },
      'tracer',
      /getSegment/,
    ],
    [
      'tracer true',
      { stream, tracer: true },
      'tracer',
      /a tracer with getSegment\(\).*\(got true\)/,
    ],
    ['clock a function', { stream, clock: Date.now }, 'clock', /must be an object/],
    ['clock.now a number', { stream, clock: { now: 0 } }, 'clock.now', /must be a function/],
    ['clock.random a string', { stream, clock: { random: '4' } }, 'clock.random', /function/],
    ['clock.tick', { stream, clock: { tick: () => {} } }, 'clock.tick', /known: now, random/],
    [
      'publisher not a publisher',
      { stream, publisher: { send: () => {} } },
      'publisher',
      /Publisher/,
    ],
    ['options a string', 'stream-name', 'options', /must be an object \(got "stream-name"\)/],
    ['options an array', [stream], 'options', /must be an object/],
    ['options a number', 42, 'options', /must be an object \(got 42\)/],
  ]

  it.each(invalid)('rejects %s', (_, options, option, why) => {
    for (const [, build] of entryPoints) {
      expectOptionsError(() => build(options), option, why)
    }
  })

  it('requires a stream name when SCACHE_STREAM_NAME is unset', () => {
    vi.stubEnv('SCACHE_STREAM_NAME', undefined)
    for (const options of [undefined, {}, { stream: { client } }, { stream: { name: '' } }]) {
      for (const [, build] of entryPoints) {
        expectOptionsError(() => build(options), 'stream.name', /is required/)
      }
    }
  })

  it('takes the stream name from SCACHE_STREAM_NAME', () => {
    vi.stubEnv('SCACHE_STREAM_NAME', 'from-env')
    expect(resolveOptions({ stream: { client } }).streamName).toBe('from-env')
    expect(new Scache({ stream: { client } }).options.streamName).toBe('from-env')
    expect(scache({ stream: { client } }).instance.options.streamName).toBe('from-env')
  })

  it('reads one of replicated streams per container, and publishes to all', () => {
    const names = ['invalidations-a', 'invalidations-b', 'invalidations-c']
    const chosen = new Set<string>()
    for (let i = 0; i < 200; i++) {
      const options = resolveOptions({ stream: { names } })
      expect(options.streamNames).toEqual(names)
      chosen.add(options.streamName)
    }
    expect([...chosen].sort()).toEqual(names)
  })

  it('takes replicated streams from SCACHE_STREAM_NAMES', () => {
    vi.stubEnv('SCACHE_STREAM_NAME', undefined)
    vi.stubEnv('SCACHE_STREAM_NAMES', 'a, b')
    expect(resolveOptions({}).streamNames).toEqual(['a', 'b'])
  })

  it('prefers stream.name over SCACHE_STREAM_NAME', () => {
    vi.stubEnv('SCACHE_STREAM_NAME', 'from-env')
    expect(resolveOptions({ stream: { name: 'given', client } }).streamName).toBe('given')
  })
})

describe('accepted options', () => {
  it('accepts a ttl range with minMs equal to maxMs', () => {
    for (const [, build] of entryPoints) {
      expect(() => build({ stream, ttl: { minMs: 5, maxMs: 5 } })).not.toThrow()
    }
    expect(resolveOptions({ stream, ttl: { minMs: 5, maxMs: 5 } }).ttl).toEqual({
      minMs: 5,
      maxMs: 5,
    })
    const keyspace = resolveOptions({
      stream,
      keyspaces: { users: { ttl: { minMs: 1, maxMs: 1 } } },
    }).keyspaces.users
    expect(keyspace).toEqual({ ttl: { minMs: 1, maxMs: 1 } })
  })

  it('accepts maxStalenessMs equal to pollIntervalMs, and pollIntervalMs 0', () => {
    expect(resolveOptions({ stream, pollIntervalMs: 500, maxStalenessMs: 500 })).toMatchObject({
      pollIntervalMs: 500,
      maxStalenessMs: 500,
    })
    expect(resolveOptions({ stream, pollIntervalMs: 0 }).pollIntervalMs).toBe(0)
  })

  it('keeps the values given', () => {
    const sizeOf = (value: unknown): number => String(value).length
    const now = (): number => 42
    const random = (): number => 0.5
    const tracer = { getSegment: () => undefined }
    const log = (): void => {}
    const publisher = createPublisher({ streamName: 's', client })
    const decoder = dynamoDbDecoder({ tables: { Users: ({ id }) => `users:${id}` } })
    const resolved = resolveOptions({
      stream: { name: 'arn:aws:kinesis:us-east-1:123456789012:stream/s', client },
      ttl: { minMs: 100, maxMs: 200 },
      negativeTtl: { minMs: 10, maxMs: 20 },
      maxEntries: 7,
      maxBytes: 4_096,
      keyspaces: { users: { maxEntries: 3, maxBytes: 2_048, negativeTtl: { minMs: 1, maxMs: 2 } } },
      sizeOf,
      clock: { now, random },
      tracer,
      pollIntervalMs: 0,
      pollBudgetMs: 50,
      maxStalenessMs: 3,
      onStreamError: 'serve-stale',
      clockSkewMs: 0,
      decoders: [decoder],
      secret: ['a-new-secret-0123456789', 'an-old-secret-0123456789'],
      maxPagesPerShard: 2,
      loadTimeoutMs: 250,
      staleIfErrorMs: 5_000,
      circuitBreaker: { failures: 3 },
      loadRate: { perSecond: 4, burst: 8 },
      metrics: { namespace: 'UsersApi', dimensions: { service: 'users' } },
      redactKeys: true,
      publisher,
      log,
    })
    expect(resolved).toEqual({
      logError: expect.any(Function),
      streamName: 'arn:aws:kinesis:us-east-1:123456789012:stream/s',
      streamNames: ['arn:aws:kinesis:us-east-1:123456789012:stream/s'],
      client,
      readPath: 'sdk',
      ttl: { minMs: 100, maxMs: 200 },
      negativeTtl: { minMs: 10, maxMs: 20 },
      maxEntries: 7,
      maxBytes: 4_096,
      keyspaces: { users: { maxEntries: 3, maxBytes: 2_048, negativeTtl: { minMs: 1, maxMs: 2 } } },
      sizeOf,
      now,
      random,
      tracer,
      pollIntervalMs: 0,
      pollBudgetMs: 50,
      maxStalenessMs: 3,
      onStreamError: 'serve-stale',
      clockSkewMs: 0,
      decoders: [decoder],
      secrets: ['a-new-secret-0123456789', 'an-old-secret-0123456789'],
      maxPagesPerShard: 2,
      loadTimeoutMs: 250,
      staleIfErrorMs: 5_000,
      circuitBreaker: { failures: 3, resetMs: 10_000, scope: 'keyspace' },
      loadRates: { default: { perSecond: 4, burst: 8 }, byKeyspace: new Map() },
      metrics: { namespace: 'UsersApi', dimensions: { service: 'users' } },
      redactKeys: true,
      publisher,
      log,
    })
    expect(resolved.client).toBe(client)
    expect(resolved.publisher).toBe(publisher)
    expect(resolved.sizeOf).toBe(sizeOf)
    expect(resolved.log).toBe(log)
  })

  it('turns log: false into a function that writes nothing', () => {
    const write = vi.spyOn(process.stdout, 'write')
    try {
      const { log } = resolveOptions({ stream, log: false })
      expect(typeof log).toBe('function')
      log({ message: 'scache' } as Parameters<typeof log>[0])
      expect(write).not.toHaveBeenCalled()
    } finally {
      write.mockRestore()
    }
  })

  it('uses a Scache passed to the middleware as is', () => {
    const instance = new Scache({ stream })
    expect(scache(instance).instance).toBe(instance)
  })
})

describe('defaults', () => {
  it('are the documented values', () => {
    expect(defaults).toEqual({
      ttl: { minMs: 30_000, maxMs: 60_000 },
      maxEntries: 10_000,
      maxBytes: 64 * 1_048_576,
      pollIntervalMs: 1_000,
      pollBudgetMs: 1_000,
      maxStalenessMs: 10_000,
      onStreamError: 'bypass',
      clockSkewMs: 5_000,
      maxPagesPerShard: 5,
    })
  })

  it('fill in every option not given', () => {
    const fromResolve = resolveOptions({ stream: { name: 's' } })
    for (const resolved of [
      fromResolve,
      new Scache({ stream: { name: 's' } }).options,
      scache({ stream }).instance.options,
    ]) {
      expect(resolved).toMatchObject({
        streamName: 's',
        streamNames: ['s'],
        ttl: defaults.ttl,
        negativeTtl: undefined,
        maxEntries: defaults.maxEntries,
        maxBytes: defaults.maxBytes,
        keyspaces: {},
        sizeOf: undefined,
        pollIntervalMs: defaults.pollIntervalMs,
        pollBudgetMs: defaults.pollBudgetMs,
        maxStalenessMs: defaults.maxStalenessMs,
        onStreamError: defaults.onStreamError,
        clockSkewMs: defaults.clockSkewMs,
        decoders: [],
        secrets: [],
        metrics: undefined,
        redactKeys: false,
        maxPagesPerShard: defaults.maxPagesPerShard,
        loadTimeoutMs: 30_000,
        staleIfErrorMs: 0,
        warm: undefined,
        publisher: undefined,
      })
      expect(typeof resolved.log).toBe('function')
    }
    expect(fromResolve.client).toBeUndefined()
  })

  it("read through the lean path with scache's client, through the SDK with one given", () => {
    expect(resolveOptions({ stream: { name: 's' } }).readPath).toBe('lean')
    expect(resolveOptions({ stream }).readPath).toBe('sdk')
    expect(resolveOptions({ stream: { ...stream, readPath: 'lean' } }).readPath).toBe('lean')
    expect(resolveOptions({ stream: { name: 's', readPath: 'sdk' } }).readPath).toBe('sdk')
  })

  it('treat null and undefined options as empty', () => {
    vi.stubEnv('SCACHE_STREAM_NAME', 'from-env')
    // Each Scache gets a clock of its own: compare everything else.
    const resolved = (options: unknown) => ({ ...resolveOptions(options), now: undefined })
    expect(resolved(null)).toEqual(resolved(undefined))
    expect(resolved(undefined)).toEqual(resolved({}))
    expect(resolveOptions({}).streamName).toBe('from-env')
  })
})
