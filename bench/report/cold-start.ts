import type { ColdStartResult } from '../cold-start.js'
import { kib, measuredOn, met, n, type Section, table } from './format.js'

export const coldStartSection = (s: Section<ColdStartResult>): string => {
  const r = s.result
  const scacheBytes =
    (r.bundle.bytesBy['scache (src/)'] ?? 0) + (r.bundle.bytesBy['lru-cache'] ?? 0)
  return `## 5. Cold start

${measuredOn(s.machine)}

${table(
  ['part of the bundle', 'minified bytes'],
  [
    ...Object.entries(r.bundle.bytesBy)
      .sort((a, b) => b[1] - a[1])
      .map(([name, bytes]) => [name, kib(bytes)]),
    ['**total** (gzip)', `**${kib(r.bundle.bytes)}** (${kib(r.bundle.gzipBytes)})`],
  ],
)}

${table(
  ['import in a fresh node process', 'median ms'],
  Object.entries(r.importMs).map(([name, ms]) => [name, n(ms)]),
)}

- Bundle of ${r.bundle.entry}: **${kib(r.bundle.bytes)}** minified (target ≤ 25 KB: ${met(r.bundle.bytes <= 25_000)}), of
  which scache and lru-cache are ${kib(scacheBytes)}; ${kib(r.bundle.gzipBytes)} gzipped. lru-cache
  alone is ${kib(r.bundle.bytesBy['lru-cache'] ?? 0)}; scache's own code carries the options'
  validation, the reader, the publisher (for \`invalidate\`), the log line and the errors.
- Import of \`dist/index.js\` over \`@middy/core\` alone: **${n(r.scacheOverMiddyMs)} ms** (target ≤ 10 ms:
  ${met(r.scacheOverMiddyMs <= 10)}). Most of it is the AWS SDK's Kinesis client, which scache imports
  and the Lambda runtime provides but does not load: it takes ${n(r.importMs['@aws-sdk/client-kinesis'] ?? Number.NaN)} ms on its own.
  With the SDK already imported, \`dist/index.js\` (25 module files) adds
  ${n(r.scacheWithoutSdkOverMiddyMs)} ms over \`@middy/core\` (${met(r.scacheWithoutSdkOverMiddyMs <= 10)} against the same target), and the
  bundled handler, which is what a function deploys (scache, lru-cache, Middy and the HTTP
  handler in one file, the runtime's SDK clients already imported),
  ${n(r.bundleWithoutSdkOverMiddyMs)} ms (${met(r.bundleWithoutSdkOverMiddyMs <= 10)}).
- In a function that already uses another SDK client, most of the SDK's cost is paid already:
  after \`@aws-sdk/client-dynamodb\`, the Kinesis client adds
  ${n(r.kinesisAfterDynamoDbMs)} ms.
- What a reader needs of the Kinesis client (\`KinesisClient\` and the four read commands),
  tree-shaken into one ${kib(r.readerSdkBundleBytes)} bundle, imports in
  **${n(r.readerSdkOverWholeSdk)}×** the whole client's time. That saving is a bundler's: the
  template leaves \`@aws-sdk/*\` to the runtime, which loads the whole package. The lean read
  path does not change what is imported: it still takes its credentials, region, endpoint and
  signer from a \`KinesisClient\`.
- Why the SDK is not loaded lazily, at the first poll: that would meet the import target by moving
  the same time from the function's init phase into its first invocation, where a caller waits for
  it. Init is where a cold start's work belongs (provisioned concurrency runs it ahead of any
  request).
- Why the bundle target is missed: lru-cache, which scache is built on, is
  ${kib(r.bundle.bytesBy['lru-cache'] ?? 0)} of the 25 KB on its own, and Middy
  ${kib(r.bundle.bytesBy['@middy/core'] ?? 0)}. Parsing and compiling the whole bundle is part of
  the ${n(r.bundleWithoutSdkOverMiddyMs)} ms above.
`
}

/** The cold start's lines in the report's summary: bundle size and import time. */
export const coldStartSummary = (s: Section<ColdStartResult>): string[][] => [
  [
    'Example handler bundle, minified',
    kib(s.result.bundle.bytes),
    '≤ 25 KB',
    met(s.result.bundle.bytes <= 25_000),
  ],
  [
    'Import dist/index.js over @middy/core',
    `${n(s.result.scacheOverMiddyMs)} ms`,
    '≤ 10 ms',
    met(s.result.scacheOverMiddyMs <= 10),
  ],
]
