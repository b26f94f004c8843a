import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import {
  conditionHolds,
  evaluate,
  functionEnvironment,
  readTemplate,
} from '../../../infra/template.js'

const template = await readTemplate(join(import.meta.dirname, '../../../template.yaml'))

describe("the template's functions, evaluated as CloudFormation deploys them", () => {
  it('take the parameters’ defaults: direct mode leaves the log table unset', () => {
    const variables = functionEnvironment(template, 'UsersFunction')
    expect(variables.SCACHE_STREAM_NAME).toBe('InvalidationStream')
    expect(variables.POLL_INTERVAL_MS).toBe(String(template.Parameters.PollIntervalMs?.Default))
    expect(variables).not.toHaveProperty('SCACHE_LOG_TABLE')
    expect(variables).not.toHaveProperty('SCACHE_LOG_COPIES')
  })

  it('follow the conditions a parameter sets, and name resources as given', () => {
    const resolution = {
      parameters: { ReadMode: 'log', LogCopies: '4' },
      resources: { InvalidationLog: 'log-table' },
    }
    expect(conditionHolds(template, 'LogMode', resolution)).toBe(true)
    expect(conditionHolds(template, 'LogMode')).toBe(false)
    const variables = functionEnvironment(template, 'UsersFunction', resolution)
    expect(variables.SCACHE_LOG_TABLE).toBe('log-table')
    expect(variables.SCACHE_LOG_COPIES).toBe('4')
    // `Publisher` is `!Not [!Condition TableStream]`.
    expect(
      conditionHolds(template, 'Publisher', { parameters: { Invalidation: 'table-stream' } }),
    ).toBe(false)
  })

  it('refuse what they cannot evaluate rather than guess', () => {
    expect(() => evaluate(template, { fn: 'GetAtt', args: ['UsersTable', 'Arn'] })).toThrow(
      /cannot evaluate !GetAtt/,
    )
    expect(() => evaluate(template, { fn: 'Ref', args: 'Nothing' })).toThrow(/no such/)
  })
})
