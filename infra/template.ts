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
