import { readFile } from 'node:fs/promises'
import { parse, type Tags } from 'yaml'

/** A CloudFormation intrinsic function, as a short-form tag (`!Ref X`) reads. */
export interface Intrinsic {
  readonly fn: string
  readonly args: unknown
}

const FUNCTIONS = [
  'Ref',
  'GetAtt',
  'Sub',
  'If',
  'Equals',
  'Not',
  'And',
  'Or',
  'Select',
  'Join',
  'Split',
  'FindInMap',
  'ImportValue',
  'GetAZs',
  'Base64',
  'Cidr',
  'Condition',
]

/** The CloudFormation short-form tags, for scalars, sequences and mappings alike. */
const tags: Tags = FUNCTIONS.flatMap((fn) =>
  (['scalar', 'seq', 'map'] as const).map((collection) => ({
    tag: `!${fn}`,
    ...(collection === 'scalar' ? {} : { collection }),
    resolve: (value: unknown) => {
      const args =
        typeof value === 'object' && value !== null && 'toJSON' in value
          ? (value as { toJSON(): unknown }).toJSON()
          : value
      // `!GetAtt A.B` is `Fn::GetAtt: [A, B]`.
      return {
        fn,
        args: fn === 'GetAtt' && typeof args === 'string' ? args.split('.') : args,
      } satisfies Intrinsic
    },
  })),
) as Tags

export const isIntrinsic = (value: unknown, fn?: string): value is Intrinsic =>
  typeof value === 'object' &&
  value !== null &&
  'fn' in value &&
  'args' in value &&
  (fn === undefined || (value as Intrinsic).fn === fn)

export interface Template {
  readonly Transform?: string
  readonly Parameters: Record<
    string,
    { Type: string; Default?: unknown; AllowedValues?: unknown[] }
  >
  readonly Conditions?: Record<string, unknown>
  readonly Globals?: Record<string, Record<string, unknown>>
  readonly Resources: Record<
    string,
    {
      Type: string
      Properties?: Record<string, unknown>
      Metadata?: Record<string, unknown>
      Condition?: string
      DeletionPolicy?: string
      UpdateReplacePolicy?: string
    }
  >
  readonly Outputs?: Record<string, { Value: unknown }>
}

/** Reads a SAM/CloudFormation template, with its short-form tags as `Intrinsic` values. */
export const readTemplate = async (path: string): Promise<Template> =>
  parse(await readFile(path, 'utf8'), { customTags: tags }) as Template

/** What `evaluate` substitutes: parameter values and the names `!Ref` of a resource gives. */
export interface Resolution {
  /** Parameter values by name; a parameter not given takes its `Default`. */
  readonly parameters?: Readonly<Record<string, string>>
  /** The physical name of each resource by logical id; one not given is its logical id. */
  readonly resources?: Readonly<Record<string, string>>
}

/** What `!Ref AWS::NoValue` evaluates to: the property is left out, as CloudFormation does. */
export const NO_VALUE: unique symbol = Symbol('AWS::NoValue')

const refOf = (
  template: Template,
  name: string,
  resolution: Resolution,
): string | typeof NO_VALUE => {
  if (name === 'AWS::NoValue') return NO_VALUE
  if (name === 'AWS::Region') return 'us-east-1'
  if (name === 'AWS::AccountId') return '123456789012'
  if (name === 'AWS::StackName') return 'scache-test'
  const parameter = template.Parameters[name]
  if (parameter !== undefined) {
    const value = resolution.parameters?.[name] ?? parameter.Default
    if (value === undefined) throw new Error(`parameter ${name} has no value and no default`)
    return String(value)
  }
  if (template.Resources[name] !== undefined) return resolution.resources?.[name] ?? name
  throw new Error(`!Ref ${name}: no such parameter or resource`)
}

/** Whether the template's condition `name` holds under `resolution`. */
export const conditionHolds = (
  template: Template,
  name: string,
  resolution: Resolution = {},
): boolean => {
  const definition = template.Conditions?.[name]
  if (definition === undefined) throw new Error(`no condition ${name}`)
  return truth(template, definition, resolution)
}

const truth = (template: Template, value: unknown, resolution: Resolution): boolean => {
  if (!isIntrinsic(value)) throw new Error(`not a condition: ${JSON.stringify(value)}`)
  const args = value.args as unknown[]
  switch (value.fn) {
    case 'Equals':
      return evaluate(template, args[0], resolution) === evaluate(template, args[1], resolution)
    case 'Not':
      return !truth(template, args[0], resolution)
    case 'And':
      return args.every((arg) => truth(template, arg, resolution))
    case 'Or':
      return args.some((arg) => truth(template, arg, resolution))
    case 'Condition':
      return conditionHolds(template, String(value.args), resolution)
    default:
      throw new Error(`not a condition function: ${value.fn}`)
  }
}

/**
 * `value` as CloudFormation would deploy it, for the intrinsics the template's function
 * properties use (`Ref`, `If`, `Sub` of a plain string, conditions): tests run the template's
 * functions with the environment it gives them. Throws on anything else rather than guess.
 */
export const evaluate = (
  template: Template,
  value: unknown,
  resolution: Resolution = {},
): unknown => {
  if (!isIntrinsic(value)) return value
  switch (value.fn) {
    case 'Ref':
      return refOf(template, String(value.args), resolution)
    case 'If': {
      const [condition, yes, no] = value.args as [string, unknown, unknown]
      return evaluate(
        template,
        conditionHolds(template, condition, resolution) ? yes : no,
        resolution,
      )
    }
    case 'Sub':
      if (typeof value.args !== 'string') break
      return value.args.replaceAll(/\$\{([\w:]+)\}/g, (_whole, name: string) =>
        String(refOf(template, name, resolution)),
      )
  }
  throw new Error(`cannot evaluate !${value.fn} ${JSON.stringify(value.args)}`)
}

/** The environment variables the template gives function `logicalId`, as strings; AWS::NoValue left out. */
export const functionEnvironment = (
  template: Template,
  logicalId: string,
  resolution: Resolution = {},
): Record<string, string> => {
  const properties = template.Resources[logicalId]?.Properties
  if (properties === undefined) throw new Error(`no resource ${logicalId}`)
  const environment = properties.Environment as { Variables?: Record<string, unknown> } | undefined
  const variables: Record<string, string> = {}
  for (const [name, given] of Object.entries(environment?.Variables ?? {})) {
    const value = evaluate(template, given, resolution)
    if (value !== NO_VALUE) variables[name] = String(value)
  }
  return variables
}
