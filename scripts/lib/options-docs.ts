import {
  type IntegerDefinition,
  type OptionDefinition,
  optionDefinitions,
} from '../../src/core/options/definitions.js'

/**
 * Renders the docs that `src/core/options/definitions.ts` defines: the TSDoc of each option in
 * `src/core/options/types.ts`, the README's short configuration table and its environment table,
 * and the full table of docs/configuration.md. `npm run docs:options` writes them;
 * test/unit/core/option-definitions.test.ts fails when they drift.
 */

/** Variables that set no option: the redaction key, and those read through the SDK or for a metric dimension. */
const otherEnvironment: readonly (readonly [string, string])[] = [
  [
    'SCACHE_REDACT_KEY',
    'The key of the `redactKey` hash (HMAC-SHA256), shared to correlate hashes across ' +
      'containers. Default: a random key per process.',
  ],
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

/**
 * The first sentence of `doc`: up to the first full stop followed by a space or the end, outside
 * parentheses and code spans (so "`e.g.`" or "(5)." do not cut it short).
 */
export const firstSentence = (doc: string): string => {
  let depth = 0
  let code = false
  for (let i = 0; i < doc.length; i++) {
    const char = doc[i]
    if (char === '`') code = !code
    else if (code) continue
    else if (char === '(') depth++
    else if (char === ')') depth = Math.max(0, depth - 1)
    else if (char === '.' && depth === 0 && (i + 1 === doc.length || doc[i + 1] === ' ')) {
      const word = doc.slice(doc.lastIndexOf(' ', i) + 1, i + 1)
      if (word !== 'e.g.' && word !== 'i.e.') return doc.slice(0, i + 1)
    }
  }
  return doc
}

/** The README's table: each option's default and first sentence; the rest is on docs/configuration.md. */
export const summaryTable = (): string => {
  const rows = flatOptions().map(
    ([path, definition]) =>
      `| \`${path}\` | ${cell(definition.default)} | ${cell(firstSentence(definition.doc))} |`,
  )
  return ['| option | default | what it sets |', '| --- | --- | --- |', ...rows].join('\n')
}

/** docs/configuration.md's sections: one heading an option, so that the README can link to each. */
export const optionSections = (): string =>
  flatOptions()
    .map(([path, definition]) => {
      const range = isInteger(definition)
        ? ` From ${count(definition.min)} to ${count(definition.max)}.`
        : ''
      const env = definition.env === undefined ? '' : ` Environment: \`${definition.env}\`.`
      return [
        `### \`${path}\``,
        '',
        `Type \`${definition.type}\`; default ${definition.default}.`,
        '',
        `${definition.doc}${range}${env}`,
      ].join('\n')
    })
    .join('\n\n')

export const environmentTable = (): string => {
  const own = flatOptions()
    .filter(([, definition]) => definition.env !== undefined)
    .map(([path, definition]) => `| \`${definition.env}\` | The default of \`${path}\`. |`)
  const other = otherEnvironment.map(([name, doc]) => `| \`${name}\` | ${doc} |`)
  return ['| variable | what it sets |', '| --- | --- |', ...own, ...other].join('\n')
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

const withSections = (file: string, text: string, sections: [string, string][]): string =>
  sections.reduce((result, [name, table]) => {
    const open = `<!-- generated:${name}:start -->`
    const close = `<!-- generated:${name}:end -->`
    const from = result.indexOf(open)
    const to = result.indexOf(close)
    if (from < 0 || to < from) throw new Error(`${file} has no ${open} … ${close} section`)
    return `${result.slice(0, from + open.length)}\n${table}\n${result.slice(to)}`
  }, text)

/** `readme` with its generated sections rendered afresh. */
export const readmeWithTables = (readme: string): string =>
  withSections('README.md', readme, [
    ['options', summaryTable()],
    ['environment', environmentTable()],
  ])

/** docs/configuration.md with its generated sections rendered afresh. */
export const configurationPage = (page: string): string =>
  withSections('docs/configuration.md', page, [['options', optionSections()]])
