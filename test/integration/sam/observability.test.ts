import { randomUUID } from 'node:crypto'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { isIntrinsic, readTemplate, type Template } from '../../../infra/template.js'
import { createScache } from '../../../src/index.js'
import { METRICS } from '../../../src/telemetry/emf.js'
import { useKinesis } from '../../support/kinesis.js'

const root = fileURLToPath(new URL('../../../', import.meta.url))
const kinesis = useKinesis()
let template: Template

beforeAll(async () => {
  template = await readTemplate(join(root, 'template.yaml'))
})
afterEach(() => {
  vi.unstubAllEnvs()
})

type Resource = Template['Resources'][string]
const resourcesOf = (type: string): [string, Resource][] =>
  Object.entries(template.Resources).filter(([, r]) => r.Type === type)
const props = (resource: Resource | undefined) => resource?.Properties ?? {}

interface Transformation {
  MetricNamespace: string
  MetricName: string
  MetricValue: string
  Dimensions?: { Key: string; Value: string }[]
}
const filters = () =>
  resourcesOf('AWS::Logs::MetricFilter').map(([name, filter]) => {
    const { FilterPattern, MetricTransformations, LogGroupName } = props(filter) as {
      FilterPattern: string
      MetricTransformations: Transformation[]
      LogGroupName: unknown
    }
    return { name, pattern: FilterPattern, transformation: MetricTransformations[0], LogGroupName }
  })

/**
 * CloudWatch Logs' JSON filter patterns, the forms the template uses: terms joined by `&&`, each
 * `$.field = "text"`, `$.field = "*"` (any string) or `$.field IS TRUE`. Anything else throws, so
 * a pattern this cannot judge fails the test instead of passing it.
 */
const matches = (pattern: string, event: Record<string, unknown>): boolean => {
  const body = /^\{\s*(.*?)\s*\}$/.exec(pattern)?.[1]
  if (body === undefined) throw new Error(`not a JSON pattern: ${pattern}`)
  return body.split('&&').every((raw) => {
    const term = raw.trim()
    const isTrue = /^\$\.(\w+) IS TRUE$/.exec(term)
    if (isTrue !== null) return event[isTrue[1] as string] === true
    const any = /^\$\.(\w+) = "\*"$/.exec(term)
    if (any !== null) return typeof event[any[1] as string] === 'string'
    const equal = /^\$\.(\w+) = "([^"*]*)"$/.exec(term)
    if (equal !== null) return event[equal[1] as string] === equal[2]
    throw new Error(`unsupported term: ${term}`)
  })
}

/** The function's EMF log lines: misses, hits, a failing poll, a throttled one, bypassed reads. */
const logLines = async (functionName: string) => {
  vi.stubEnv('AWS_LAMBDA_FUNCTION_NAME', functionName)
  const stream = await kinesis.createStream(1)
  const client = kinesis.client()
  let fault: string | undefined
  // Fault injection: GetRecords fails with the error named by `fault`, while it is set.
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === 'GetRecordsCommand' && fault !== undefined) {
        const error = new Error(`injected ${fault}`)
        error.name = fault
        throw error
      }
      return next(args)
    },
    { step: 'initialize', name: 'observabilityTestFault' },
  )
  const lines: Record<string, unknown>[] = []
  const cache = createScache({
    stream: { name: stream, client },
    pollIntervalMs: 0,
    maxStalenessMs: 1,
    metrics: true,
    log: (line) => lines.push(JSON.parse(JSON.stringify(line)) as Record<string, unknown>),
  })
  const request = async () => {
    const invocation = await cache.begin({ awsRequestId: randomUUID() })
    await invocation.cache.getOrLoad('users:1', async () => 'Ada')
    invocation.end()
  }
  for (const next of [
    undefined,
    undefined,
    'InternalFailure',
    undefined,
    'ProvisionedThroughputExceededException',
    undefined,
  ]) {
    // Past the last failure's backoff, so this request polls.
    const backoffMs = lines.at(-1)?.backoffMs
    if (typeof backoffMs === 'number') await new Promise((r) => setTimeout(r, backoffMs + 20))
    fault = next
    await request()
  }
  return lines
}

describe('template.yaml: CloudWatch dashboard, metric filters and alarms', () => {
  it('metric filters count what the log line says in words, from the function’s own log group', async () => {
    const lines = await logLines('users-fn')
    // The scenario exercises what the filters count.
    expect(lines.filter((line) => line.throttled === true).length).toBeGreaterThan(0)
    expect(lines.filter((line) => line.streamError !== undefined).length).toBeGreaterThan(1)
    const byName = new Map(filters().map((f) => [f.transformation?.MetricName, f]))
    const expected: Record<string, (line: Record<string, unknown>) => boolean> = {
      throttledPolls: (line) => line.throttled === true,
      streamErrors: (line) => typeof line.streamError === 'string',
      pollMs: (line) => line.polled === true,
    }
    expect([...byName.keys()].sort()).toEqual(Object.keys(expected).sort())
    const noise: Record<string, unknown>[] = [
      { level: 'INFO', message: 'user fetched', polled: true, throttled: true },
    ]
    for (const [metric, want] of Object.entries(expected)) {
      const filter = byName.get(metric)
      expect(filter?.LogGroupName).toEqual({ fn: 'Ref', args: 'UsersFunctionLogs' })
      const matched = [...lines, ...noise].filter((line) => matches(filter?.pattern ?? '', line))
      expect(matched, metric).toEqual(lines.filter(want))
      const transformation = filter?.transformation as Transformation
      expect(transformation.MetricNamespace).toBe('scache')
      // The value and the dimension are fields of the line: a typo would publish nothing.
      const value = transformation.MetricValue
      if (value.startsWith('$.')) {
        for (const line of matched) expect(typeof line[value.slice(2)], metric).toBe('number')
      }
      expect(transformation.Dimensions).toEqual([{ Key: 'FunctionName', Value: '$.FunctionName' }])
      for (const line of matched) expect(line.FunctionName).toBe('users-fn')
    }
  })

  it('alarms watch metrics the function publishes: bypassing for minutes, stream errors', () => {
    const published = new Set([
      ...METRICS.map(([name]) => name),
      ...filters().map((f) => f.transformation?.MetricName),
    ])
    const alarms = Object.fromEntries(resourcesOf('AWS::CloudWatch::Alarm'))
    expect(Object.keys(alarms).sort()).toEqual(['BypassingAlarm', 'StreamErrorsAlarm'])
    for (const [name, alarm] of Object.entries(alarms)) {
      const p = props(alarm)
      expect(p.Namespace, name).toBe('scache')
      expect(published, name).toContain(p.MetricName)
      expect(p.Dimensions, name).toEqual([
        { Name: 'FunctionName', Value: { fn: 'Ref', args: 'UsersFunction' } },
      ])
      expect(p.Statistic).toBe('Sum')
      expect(p.Period).toBe(60)
      expect(p.TreatMissingData).toBe('notBreaching')
      for (const actions of [p.AlarmActions, p.OKActions])
        expect((actions as { args: unknown[] }).args[0]).toBe('HasAlarmTopic')
    }
    expect(props(alarms.BypassingAlarm)).toMatchObject({
      MetricName: 'bypassed',
      EvaluationPeriods: { fn: 'Ref', args: 'BypassAlarmMinutes' },
      DatapointsToAlarm: { fn: 'Ref', args: 'BypassAlarmMinutes' },
      ComparisonOperator: 'GreaterThanThreshold',
      Threshold: 0,
    })
    expect(props(alarms.StreamErrorsAlarm).MetricName).toBe('streamErrors')
  })

  it('the dashboard is valid JSON charting only metrics that exist, each asked-for view once', () => {
    const [[, dashboard] = []] = resourcesOf('AWS::CloudWatch::Dashboard')
    const body = props(dashboard).DashboardBody
    expect(isIntrinsic(body, 'Sub')).toBe(true)
    // What CloudFormation substitutes; each name must exist (the template test checks that too).
    const values: Record<string, string> = {
      'AWS::Region': 'us-east-1',
      UsersFunction: 'users-fn',
      MaxStalenessMs: String(template.Parameters.MaxStalenessMs?.Default),
      'BypassingAlarm.Arn': 'arn:aws:cloudwatch:us-east-1:0:alarm:a',
      'StreamErrorsAlarm.Arn': 'arn:aws:cloudwatch:us-east-1:0:alarm:b',
    }
    const text = String((body as { args: unknown }).args).replace(/\$\{([\w:.]+)\}/g, (_, name) => {
      expect(values, name).toHaveProperty([name])
      return values[name] as string
    })
    const parsed = JSON.parse(text) as {
      widgets: {
        type: string
        properties: {
          title: string
          metrics?: unknown[][]
          alarms?: string[]
          yAxis?: { left?: { min?: number; max?: number } }
        }
      }[]
    }
    const published = new Set([
      ...METRICS.map(([name]) => name),
      ...filters().map((f) => f.transformation?.MetricName),
    ])
    const charted = new Set<string>()
    for (const widget of parsed.widgets) {
      if (widget.type === 'alarm') {
        expect(widget.properties.alarms).toEqual([
          values['BypassingAlarm.Arn'],
          values['StreamErrorsAlarm.Arn'],
        ])
        continue
      }
      const ids = new Set<string>()
      const expressions: string[] = []
      for (const metric of widget.properties.metrics ?? []) {
        const last = metric.at(-1) as { id?: string; expression?: string } | string
        if (typeof last === 'object' && last.expression !== undefined) {
          expressions.push(last.expression)
          continue
        }
        const [namespace, name, dimension, value] = metric as string[]
        expect(namespace).toBe('scache')
        expect(published, widget.properties.title).toContain(name)
        expect([dimension, value]).toEqual(['FunctionName', 'users-fn'])
        charted.add(name as string)
        if (typeof last === 'object' && last.id !== undefined) ids.add(last.id)
      }
      // Metric math refers to metrics of the same widget by id.
      for (const expression of expressions)
        for (const [word] of expression.matchAll(/[A-Za-z_]\w*/g)) expect(ids).toContain(word)
    }
    // Hit ratio, time saved against spent, staleness, bypassed reads, throttles, poll latency.
    for (const name of [
      'hits',
      'misses',
      'savedMs',
      'streamMs',
      'stalenessMs',
      'bypassed',
      'throttledPolls',
      'streamErrors',
      'pollMs',
    ])
      expect(charted, name).toContain(name)
    const ratio = parsed.widgets.find((w) => w.properties.title.startsWith('Hit ratio'))
    expect(ratio?.properties.yAxis?.left).toMatchObject({ min: 0, max: 100 })
  })
})

describe('template.yaml: the example is safe to deploy', () => {
  type Event = { Type: string; Properties: { Method: string; Path: string; Auth?: unknown } }
  const events = () =>
    Object.values(props(template.Resources.UsersFunction).Events as Record<string, Event>).filter(
      (event) => event.Type === 'HttpApi',
    )

  it('writes need IAM (SigV4) auth; reads stay public', () => {
    expect(template.Globals?.HttpApi).toEqual({ Auth: { EnableIamAuthorizer: true } })
    const routes = events().map((e) => e.Properties)
    expect(routes.map((r) => r.Method).sort()).toEqual(['DELETE', 'GET', 'PUT'])
    for (const route of routes) {
      if (route.Method === 'GET') expect(route.Auth, 'GET is public').toBeUndefined()
      else expect(route.Auth, route.Method).toEqual({ Authorizer: 'AWS_IAM' })
    }
  })

  it('the writer policy allows invoking exactly the IAM-protected routes', () => {
    const policy = props(template.Resources.UsersWriterPolicy).PolicyDocument as {
      Statement: { Effect: string; Action: string; Resource: { fn: string; args: string }[] }[]
    }
    expect(policy.Statement).toHaveLength(1)
    const [statement] = policy.Statement
    expect(statement?.Effect).toBe('Allow')
    expect(statement?.Action).toBe('execute-api:Invoke')
    const protectedRoutes = events()
      .filter((e) => (e.Properties.Auth as { Authorizer?: string })?.Authorizer === 'AWS_IAM')
      .map((e) => `${e.Properties.Method}${e.Properties.Path.replace(/\{[^}]+\}/g, '*')}`)
    const allowed = (statement?.Resource ?? []).map((resource) => {
      expect(resource.fn).toBe('Sub')
      const arn =
        /^arn:\$\{AWS::Partition\}:execute-api:\$\{AWS::Region\}:\$\{AWS::AccountId\}:\$\{ServerlessHttpApi\}\/\*\/([A-Z]+)(\/.*)$/.exec(
          resource.args,
        )
      expect(arn, resource.args).not.toBeNull()
      return `${arn?.[1]}${arn?.[2]}`
    })
    expect(allowed.sort()).toEqual(protectedRoutes.sort())
    expect(template.Outputs?.WriterPolicyArn?.Value).toEqual({
      fn: 'Ref',
      args: 'UsersWriterPolicy',
    })
  })
})

describe('the local stack under the template’s auth', () => {
  it('serves the template’s routes; IAM ones without a signature (the local API has no IAM)', async () => {
    const { startLocalStack } = await import('../../../infra/local/stack.js')
    const stack = await startLocalStack({ containers: 1, seed: [{ id: '1', name: 'Ada' }] })
    try {
      expect(stack.routes).toEqual([
        { method: 'GET', path: '/users/{id}', iam: false },
        { method: 'PUT', path: '/users/{id}', iam: true },
        { method: 'DELETE', path: '/users/{id}', iam: true },
      ])
      const put = await fetch(`${stack.url}/users/1`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: '{"name":"Ada Lovelace"}',
      })
      expect(put.status).toBe(200)
      expect(await (await fetch(`${stack.url}/users/1`)).json()).toEqual({
        id: '1',
        name: 'Ada Lovelace',
      })
    } finally {
      await stack.close()
    }
  })
})
