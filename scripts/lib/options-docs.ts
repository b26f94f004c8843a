import {
  type IntegerDefinition,
  type OptionDefinition,
  optionDefinitions,
} from '../../src/core/options/definitions.js'

/**
 * Renders the docs that `src/core/options/definitions.ts` defines: the TSDoc of each option in
 * `src/core/options/types.ts`, and the README's configuration and environment tables.
 * `npm run docs:options` writes them; test/unit/docs/options.test.ts fails when they drift.
 */

/** Variables scache does not own but reads (through the SDK or for a metric dimension). */
const awsEnvironment: readonly (readonly [string, string])[] = [
  ['AWS_REGION', 'The region of the default Kinesis clients (set by Lambda).'],
  [
    'AWS_ENDPOINT_URL_KINESIS',
    'Another Kinesis endpoint for the default clients, such as a local emulator.',
  ],
  [
    'AWS_ENDPOINT_URL_DYNAMODB',
    'Another DynamoDB endpoint for the log table’s default client, such as a local emulator.',
  ],
  ['AWS_LAMBDA_FUNCTION_NAME', 'The `FunctionName` dimension of `metrics: true` (set by Lambda).'],
]

const isInteger = (definition: OptionDefinition): definition is IntegerDefinition =>
  'min' in definition

const count = (value: number): string =>
  value === Number.MAX_SAFE_INTEGER ? '2^53 − 1' : value.toLocaleString('en-US')

/** Every option and sub-option, by its dotted path, in the table's order. */
export const flatOptions = (): [string, OptionDefinition][] =>
  Object.entries(optionDefinitions).flatMap(([name, definition]): [string, OptionDefinition][] =>
    'fields' in definition && definition.fields !== undefined
      ? Object.entries(definition.fields).map(([field, sub]) => [`${name}.${field}`, sub])
      : [[name, definition]],
  )

const cell = (text: string): string => text.replaceAll('|', '\\|')

export const configurationTable = (): string => {
  const rows = flatOptions().map(([path, definition]) => {
    const range = isInteger(definition)
      ? ` From ${count(definition.min)} to ${count(definition.max)}.`
      : ''
    const env = definition.env === undefined ? '' : ` Environment: \`${definition.env}\`.`
    return `| \`${path}\` | ${cell(definition.type)} | ${cell(definition.default)} | ${cell(definition.doc)}${range}${env} |`
  })
  return ['| option | type | default | meaning |', '| --- | --- | --- | --- |', ...rows].join('\n')
}

export const environmentTable = (): string => {
  const own = flatOptions()
    .filter(([, definition]) => definition.env !== undefined)
    .map(
      ([path, definition]) => `| \`${definition.env}\` | \`${path}\` | ${cell(definition.doc)} |`,
    )
  const aws = awsEnvironment.map(([name, doc]) => `| \`${name}\` | (AWS) | ${doc} |`)
  return ['| variable | sets | meaning |', '| --- | --- | --- |', ...own, ...aws].join('\n')
}

/** `text` as the lines of a TSDoc block indented by `indent`, wrapped at 100 columns. */
const tsdoc = (text: string, indent: string): string => {
  const width = 100 - indent.length - 3
  if (text.length <= width - 4 && !text.includes('*/')) return `${indent}/** ${text} */`
  const lines: string[] = []
  let line = ''
  for (const word of text.split(' ')) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line)
      line = word
    } else line = line === '' ? word : `${line} ${word}`
  }
  if (line !== '') lines.push(line)
  return [`${indent}/**`, ...lines.map((l) => `${indent} * ${l}`), `${indent} */`].join('\n')
}

const docOf = (definition: OptionDefinition): string => {
  const parts = [definition.doc]
  if (isInteger(definition))
    parts.push(`From ${count(definition.min)} to ${count(definition.max)}.`)
  parts.push(`Default: ${definition.default}.`)
  if (definition.env !== undefined) parts.push(`Environment: \`${definition.env}\`.`)
  return parts.join(' ')
}

/** Replaces the TSDoc of each property of `interfaceName` in `source` with the table's. */
const withDocs = (
  source: string,
  interfaceName: string,
  definitions: Readonly<Record<string, OptionDefinition>>,
): string => {
  const start = source.indexOf(`export interface ${interfaceName} {`)
  const end = source.indexOf('\n}\n', start)
  if (start < 0 || end < 0) throw new Error(`no interface ${interfaceName}`)
  const body = source.slice(start, end)
  const seen = new Set<string>()
  const rewritten = body.replace(
    /(\n {2}\/\*\*[\s\S]*?\*\/)?\n {2}readonly (\w+)\?:/g,
    (_whole, _doc: string | undefined, name: string) => {
      const definition = definitions[name]
      if (definition === undefined) throw new Error(`${interfaceName}.${name} has no definition`)
      seen.add(name)
      return `\n${tsdoc(docOf(definition), '  ')}\n  readonly ${name}?:`
    },
  )
  for (const name of Object.keys(definitions))
    if (!seen.has(name)) throw new Error(`${interfaceName} has no property ${name}`)
  return source.slice(0, start) + rewritten + source.slice(end)
}

export const optionTypesSource = (source: string): string =>
  withDocs(
    withDocs(
      withDocs(source, 'ScacheOptions', optionDefinitions),
      'StreamOptions',
      optionDefinitions.stream.fields,
    ),
    'LogTableOptions',
    optionDefinitions.logTable.fields,
  )

/** `readme` with its generated sections rendered afresh. */
export const readmeWithTables = (readme: string): string =>
  [
    ['options', configurationTable()],
    ['environment', environmentTable()],
  ].reduce((text, [name, table]) => {
    const open = `<!-- generated:${name}:start -->`
    const close = `<!-- generated:${name}:end -->`
    const from = text.indexOf(open)
    const to = text.indexOf(close)
    if (from < 0 || to < from) throw new Error(`README.md has no ${open} … ${close} section`)
    return `${text.slice(0, from + open.length)}\n${table}\n${text.slice(to)}`
  }, readme)
