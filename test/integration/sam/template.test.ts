import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { build } from 'esbuild'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { samEsbuildOptions } from '../../../infra/sam-build.js'
import {
  functionEnvironment,
  isIntrinsic,
  readTemplate,
  type Template,
} from '../../../infra/template.js'
import { flatOptions } from '../../../scripts/lib/options-docs.js'

const root = fileURLToPath(new URL('../../../', import.meta.url))
let template: Template

beforeAll(async () => {
  template = await readTemplate(join(root, 'template.yaml'))
})

type Resource = Template['Resources'][string]
const propertiesOf = (resource: Resource): Record<string, unknown> => resource.Properties ?? {}
const policiesOf = (fn: Resource) => propertiesOf(fn).Policies as unknown[]
const functions = (): [string, Resource][] =>
  Object.entries(template.Resources).filter(([, r]) => r.Type === 'AWS::Serverless::Function')

/** Every value a property may take: both branches of each `!If`. */
const branches = (value: unknown): unknown[] =>
  isIntrinsic(value, 'If') ? (value.args as unknown[]).slice(1).flatMap(branches) : [value]

/** Every value anywhere under `value`, intrinsics included, depth first. */
const walk = function* (value: unknown): Generator<unknown> {
  yield value
  if (isIntrinsic(value)) yield* walk(value.args)
  else if (Array.isArray(value)) for (const item of value) yield* walk(item)
  else if (typeof value === 'object' && value !== null)
    for (const item of Object.values(value)) yield* walk(item)
}

/** The IAM statements a function may get, under any condition. */
const statements = (fn: Resource) =>
  policiesOf(fn)
    .flatMap(branches)
    .flatMap((policy) => {
      if (isIntrinsic(policy, 'Ref')) return [] // AWS::NoValue
      expect(typeof policy, 'only inline policies, no managed ones').toBe('object')
      return (policy as { Statement: Record<string, unknown>[] }).Statement
    })

const list = (value: unknown): unknown[] => (Array.isArray(value) ? value : [value])

/** What each function's code (and, for the relay, its event source mappings) calls. */
const expectedActions: Record<string, string[]> = {
  UsersFunction: [
    'dynamodb:DeleteItem',
    'dynamodb:GetItem',
    'dynamodb:PutItem',
    'dynamodb:Query',
    'kinesis:DescribeStreamSummary',
    'kinesis:GetRecords',
    'kinesis:GetShardIterator',
    'kinesis:ListShards',
    'kinesis:PutRecords',
  ],
  RelayFunction: [
    'dynamodb:PutItem',
    'dynamodb:Query',
    'kinesis:DescribeStream',
    'kinesis:DescribeStreamSummary',
    'kinesis:GetRecords',
    'kinesis:GetShardIterator',
    'kinesis:ListShards',
    'sqs:DeleteMessage',
    'sqs:GetQueueAttributes',
    'sqs:ReceiveMessage',
    'sqs:SendMessage',
  ],
  HeartbeatFunction: ['kinesis:PutRecord'],
}

describe('template.yaml (parsed with the CloudFormation tags)', () => {
  it('is a SAM template whose every reference and condition exists', () => {
    expect(template.Transform).toBe('AWS::Serverless-2016-10-31')
    const known = new Set([
      ...Object.keys(template.Parameters),
      ...Object.keys(template.Resources),
      // Made by SAM from the functions' HttpApi events.
      'ServerlessHttpApi',
    ])
    for (const value of walk(template)) {
      if (isIntrinsic(value, 'Ref') && !String(value.args).startsWith('AWS::'))
        expect(known, `!Ref ${String(value.args)}`).toContain(value.args)
      if (isIntrinsic(value, 'GetAtt'))
        expect(known, `!GetAtt ${String(value.args)}`).toContain((value.args as string[])[0])
      if (isIntrinsic(value, 'If'))
        expect(Object.keys(template.Conditions ?? {})).toContain((value.args as string[])[0])
      if (isIntrinsic(value, 'Condition'))
        expect(Object.keys(template.Conditions ?? {})).toContain(value.args)
      if (isIntrinsic(value, 'Sub'))
        for (const [, name] of String(value.args).matchAll(/\$\{([\w:]+)/g))
          if (!name?.startsWith('AWS::')) expect(known, `\${${name}}`).toContain(name)
    }
    for (const parameter of Object.values(template.Parameters)) {
      expect(parameter.Default).toBeDefined()
      if (parameter.AllowedValues !== undefined)
        expect(parameter.AllowedValues).toContain(parameter.Default)
    }
  })

  it('runs every function on nodejs22.x or nodejs24.x, arm64, built by esbuild', () => {
    const globals = template.Globals?.Function ?? {}
    expect(functions().length).toBeGreaterThan(0)
    for (const [name, fn] of functions()) {
      const runtime = fn.Properties?.Runtime ?? globals.Runtime
      const runtimes = isIntrinsic(runtime, 'Ref')
        ? (template.Parameters[runtime.args as string]?.AllowedValues ?? [])
        : [runtime]
      expect(runtimes.length, name).toBeGreaterThan(0)
      for (const value of runtimes) expect(['nodejs22.x', 'nodejs24.x'], name).toContain(value)
      expect(fn.Properties?.Architectures ?? globals.Architectures, name).toEqual(['arm64'])
      expect(fn.Metadata?.BuildMethod, name).toBe('esbuild')
    }
  })

  it('grants only named actions on the template’s own resources, never a wildcard', () => {
    for (const [name, fn] of functions()) {
      const granted = statements(fn)
      expect(granted.length, name).toBeGreaterThan(0)
      for (const statement of granted) {
        expect(statement.Effect).toBe('Allow')
        for (const action of list(statement.Action)) {
          expect(action).toMatch(/^(kinesis|dynamodb|sqs):[A-Za-z]+$/)
        }
        for (const resource of list(statement.Resource)) {
          expect(isIntrinsic(resource, 'GetAtt'), `${name}: ${JSON.stringify(resource)}`).toBe(true)
          const [target, attribute] = (resource as { args: string[] }).args
          expect(template.Resources[target as string]).toBeDefined()
          expect(attribute).toBe('Arn')
        }
        for (const value of walk(statement)) {
          if (typeof value === 'string') expect(value, name).not.toContain('*')
        }
        expect(statement.NotAction).toBeUndefined()
        expect(statement.NotResource).toBeUndefined()
      }
      // What the code calls, and in log mode what the relay's mappings read with.
      const actions = new Set(granted.flatMap((statement) => list(statement.Action)))
      expect([...actions].sort(), name).toEqual(expectedActions[name])
      // Only the publisher variant may write to the stream; only log mode may read the log.
      for (const policy of policiesOf(fn).filter((p) => isIntrinsic(p, 'If'))) {
        const [condition, yes] = (
          policy as { args: [string, { Statement: { Action: string[] }[] }] }
        ).args
        expect(yes.Statement.flatMap((statement) => statement.Action)).toEqual(
          { Publisher: ['kinesis:PutRecords'], LogMode: ['dynamodb:Query'] }[condition],
        )
      }
      expect(
        statements({ ...fn, Properties: { Policies: [policiesOf(fn)[0]] } })
          .flatMap((statement) => list(statement.Action))
          .filter((action) => action === 'kinesis:PutRecords'),
      ).toEqual([])
    }
  })

  it('says what becomes of every resource holding data when the stack is deleted or replaced', () => {
    const holdsData = ['AWS::DynamoDB::Table', 'AWS::Kinesis::Stream', 'AWS::Logs::LogGroup']
    const data = Object.entries(template.Resources).filter(([, r]) => holdsData.includes(r.Type))
    expect(data.map(([name]) => name)).toEqual(
      expect.arrayContaining(['InvalidationStream', 'UsersFunctionLogs', 'UsersTable']),
    )
    for (const [name, resource] of data) {
      expect(['Retain', 'Delete'], name).toContain(resource.DeletionPolicy)
      // Without both, a replacing update deletes what deleting the stack would have kept.
      expect(resource.UpdateReplacePolicy, name).toBe(resource.DeletionPolicy)
    }
    // The users are the data; the stream and the logs expire anyway.
    expect(template.Resources.UsersTable?.DeletionPolicy).toBe('Retain')
  })

  it('log mode: the table, the relay and its mappings, the heartbeat, all only in log mode', () => {
    const resources = template.Resources
    const logOnly = [
      'InvalidationLog',
      'RelayFunction',
      'RelayFunctionLogs',
      'RelayStreamMapping',
      'RelayFailures',
      'RelayFailuresMapping',
      'HeartbeatFunction',
      'HeartbeatFunctionLogs',
    ]
    for (const name of logOnly) expect(resources[name]?.Condition, name).toBe('LogMode')
    expect(template.Conditions?.LogMode).toEqual({
      fn: 'Equals',
      args: [{ fn: 'Ref', args: 'ReadMode' }, 'log'],
    })
    expect(template.Parameters.ReadMode?.Default).toBe('direct')
    const table = resources.InvalidationLog as Resource & Record<string, unknown>
    expect(table.DeletionPolicy).toBe('Delete')
    expect(table.UpdateReplacePolicy).toBe('Delete')
    expect(propertiesOf(table)).toMatchObject({
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'seq', KeyType: 'RANGE' },
      ],
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
    })
    expect(propertiesOf(resources.RelayStreamMapping as Resource)).toMatchObject({
      FunctionName: { fn: 'Ref', args: 'RelayFunction' },
      EventSourceArn: { fn: 'GetAtt', args: ['InvalidationStream', 'Arn'] },
      ParallelizationFactor: 1,
      BisectBatchOnFunctionError: true,
      MaximumRetryAttempts: 10,
      DestinationConfig: {
        OnFailure: { Destination: { fn: 'GetAtt', args: ['RelayFailures', 'Arn'] } },
      },
    })
    expect(propertiesOf(resources.RelayFailuresMapping as Resource)).toMatchObject({
      FunctionName: { fn: 'Ref', args: 'RelayFunction' },
      EventSourceArn: { fn: 'GetAtt', args: ['RelayFailures', 'Arn'] },
    })
    // The containers are told to read the log only in log mode.
    const variables = (
      propertiesOf(resources.UsersFunction as Resource).Environment as {
        Variables: Record<string, unknown>
      }
    ).Variables
    expect(variables.SCACHE_LOG_TABLE).toEqual({
      fn: 'If',
      args: [
        'LogMode',
        { fn: 'Ref', args: 'InvalidationLog' },
        { fn: 'Ref', args: 'AWS::NoValue' },
      ],
    })
  })

  it('streams the table into the invalidation stream only in table-stream mode', () => {
    const spec = template.Resources.UsersTable?.Properties?.KinesisStreamSpecification
    expect(isIntrinsic(spec, 'If')).toBe(true)
    const [condition, enabled] = (spec as { args: [string, Record<string, unknown>] }).args
    expect(condition).toBe('TableStream')
    expect(enabled.StreamArn).toEqual({ fn: 'GetAtt', args: ['InvalidationStream', 'Arn'] })
    const stream = template.Resources.InvalidationStream?.Properties
    expect(stream?.StreamModeDetails).toEqual({ StreamMode: { fn: 'Ref', args: 'StreamMode' } })
    expect(template.Parameters.StreamMode?.AllowedValues).toEqual(['PROVISIONED', 'ON_DEMAND'])
  })
})

// The full replay (a clean copy, SAM's npm install, the esbuild CLI) is test/deploy/sam-build.test.ts.
describe('the functions, bundled in the repository with the template’s esbuild properties', () => {
  let out: string
  beforeAll(async () => {
    // Inside the repository, so the bundles resolve the external AWS SDK from node_modules.
    out = await mkdtemp(join(root, 'node_modules', '.sam-build-'))
  })
  afterAll(async () => {
    await rm(out, { recursive: true, force: true })
    vi.unstubAllEnvs()
  })

  /** Source files the bundle was made from, in this repository (not node_modules). */
  const sources = (metafile: { inputs: Record<string, unknown> }) =>
    Object.keys(metafile.inputs).filter((path) => !path.includes('node_modules'))

  it('every handler exists, exports its handler, and gets every variable the code reads', async () => {
    for (const [name, fn] of functions()) {
      const properties = fn.Metadata?.BuildProperties as Record<string, unknown> & {
        EntryPoints: string[]
      }
      const codeUri = join(root, String(fn.Properties?.CodeUri))
      const result = await build({
        ...samEsbuildOptions(properties),
        entryPoints: properties.EntryPoints.map((entry) => join(codeUri, entry)),
        outdir: join(out, name),
        tsconfig: join(root, 'tsconfig.json'),
        metafile: true,
        logLevel: 'silent',
      })
      const files = await readdir(join(out, name))

      // The environment the function gets, with the parameters' defaults.
      const variables = (propertiesOf(fn).Environment as { Variables: Record<string, unknown> })
        .Variables
      for (const [variable, value] of Object.entries(functionEnvironment(template, name)))
        vi.stubEnv(variable, value)
      vi.stubEnv('AWS_REGION', 'us-east-1')

      // Every variable the function's own code reads is set by the template.
      const read = new Set<string>()
      for (const source of sources(result.metafile)) {
        const text = await readFile(join(root, source), 'utf8')
        for (const [, variable] of text.matchAll(
          /\b(?:process\.)?env(?:\.([A-Z][A-Z0-9_]*)|\[['"](\w+)['"]\])/g,
        ))
          if (variable !== undefined) read.add(variable)
        for (const [, variable] of text.matchAll(/\b(?:env|ms)\('(\w+)'\)/g))
          if (variable !== undefined) read.add(variable)
      }
      // Set by Lambda itself: region, function name, trace header, the SDK's own settings.
      const fromLambda = (variable: string) => /^(AWS_|_X_AMZN_|LAMBDA_)/.test(variable)
      // The library reads SCACHE_STREAM_NAME (or, for replicas, SCACHE_STREAM_NAMES); its other
      // variables are optional defaults of options (the option definitions' `env`).
      if (name === 'UsersFunction') expect(read).toContain('SCACHE_STREAM_NAME')
      for (const [, option] of flatOptions())
        if (
          option.env !== undefined &&
          (option.env !== 'SCACHE_STREAM_NAME' || name !== 'UsersFunction')
        )
          read.delete(option.env)
      expect(
        [...read].filter((v) => !fromLambda(v) && !(v in variables)),
        name,
      ).toEqual([])
      if (name === 'UsersFunction') expect(read).toContain('USERS_TABLE')

      for (const handler of branches(fn.Properties?.Handler)) {
        const [file, exported] = String(handler).split('.') as [string, string]
        expect(files, `${name}: ${String(handler)}`).toContain(`${file}.mjs`)
        const bundle = await readFile(join(out, name, `${file}.mjs`), 'utf8')
        // The AWS SDK is the runtime's, not bundled.
        // (The relay never calls Kinesis, and loads the DynamoDB client on first use: the library
        // has it as an optional peer dependency.)
        if (name !== 'RelayFunction') expect(bundle).toMatch(/from"@aws-sdk\/client-kinesis"/)
        if (name !== 'HeartbeatFunction')
          expect(bundle).toMatch(/(from|import\()"@aws-sdk\/client-dynamodb"/)
        const module = (await import(pathToFileURL(join(out, name, `${file}.mjs`)).href)) as Record<
          string,
          unknown
        >
        expect(typeof module[exported], `${name}: ${String(handler)}`).toBe('function')
      }
    }
  })
})
