import { randomUUID } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { createPublisher, createScache, type Scache } from '../../../src/index.js'
import { runCli } from '../../support/cli.js'
import { failCommand, useKinesis } from '../../support/kinesis.js'

const kinesis = useKinesis()
const dir = mkdtempSync(join(tmpdir(), 'scache-report-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

interface Written {
  readonly line: Record<string, unknown>
  readonly at: number
}

/**
 * Real log lines: two containers (one writing EMF) through misses, hits, an invalidate-all from
 * the stream, a throttled poll and the bypassed reads after it.
 */
const produceLines = async (): Promise<Written[]> => {
  const stream = await kinesis.createStream(1)
  const client = kinesis.client()
  let throttling = false
  failCommand(client, 'GetRecords', 'ProvisionedThroughputExceededException', () => throttling)
  const written: Written[] = []
  const log = (line: object) => written.push({ line: { ...line }, at: Date.now() })
  const plain = createScache({ stream: { name: stream, client }, pollIntervalMs: 0, log })
  const emf = createScache({
    stream: { name: stream, client: kinesis.client() },
    pollIntervalMs: 0,
    metrics: true,
    log,
  })
  const request = async (instance: Scache, keys: readonly string[]) => {
    const invocation = await instance.begin({ awsRequestId: randomUUID() })
    for (const key of keys)
      await invocation.cache.getOrLoad(key, async () => {
        await sleep(2)
        return key
      })
    invocation.end()
  }
  for (const instance of [plain, emf]) {
    for (let i = 0; i < 5; i++) await request(instance, ['users:1', 'users:2', `users:${i + 3}`])
  }
  await createPublisher({ streamName: stream, client: kinesis.client() }).invalidateAll()
  await request(plain, ['users:1'])
  await request(emf, ['users:1'])
  throttling = true
  await request(plain, ['users:1', 'users:2'])
  throttling = false
  await request(plain, ['users:1'])
  return written
}

/** A CloudWatch Logs export line: time, request id and level before the JSON. */
const cloudWatch = ({ line, at }: Written) =>
  `${new Date(at).toISOString()}\t${String(line.requestId)}\tINFO\t${JSON.stringify(line)}`

const noise = [
  'START RequestId: 8f0c Version: $LATEST',
  'END RequestId: 8f0c',
  'REPORT RequestId: 8f0c\tDuration: 12.34 ms\tBilled Duration: 13 ms',
  '{"level":"INFO","message":"user fetched","id":"42"}',
]
const invalid = [
  '{"message":"scache","hits":"many","misses":0,"streamMs":1,"savedMs":1}',
  '2025-11-21T15:20:00.000Z\t8f0c\tINFO\t{"message":"scache","streamMs":1',
]

const sum = (lines: readonly Record<string, unknown>[], field: string) =>
  lines.reduce((total, line) => total + (typeof line[field] === 'number' ? line[field] : 0), 0)

/** Nearest rank. */
const percentile = (sorted: readonly number[], p: number) =>
  sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)]

describe('scache report', () => {
  it('summarises real log lines (plain, CloudWatch export, EMF) and skips the rest', async () => {
    const written = await produceLines()
    const lines = written.map((w) => w.line)
    const fixture = join(dir, 'scache.log')
    const emfLines = written.filter((w) => w.line._aws !== undefined)
    const plainLines = written.filter((w) => w.line._aws === undefined)
    // Half of the plain container's lines as exported from CloudWatch, half as bare JSON.
    const timed = [
      ...emfLines.map((w) => JSON.stringify(w.line)),
      ...plainLines.filter((_, i) => i % 2 === 0).map(cloudWatch),
    ]
    const bare = plainLines.filter((_, i) => i % 2 === 1).map((w) => JSON.stringify(w.line))
    writeFileSync(
      fixture,
      [...noise.slice(0, 2), ...timed, '', ...bare, ...noise.slice(2), ...invalid].join('\n'),
    )

    // The scenario did what it is meant to exercise.
    expect(emfLines.length).toBeGreaterThan(0)
    expect(lines.some((line) => line.cleared === 'invalidate-all')).toBe(true)
    expect(lines.some((line) => line.throttled === true)).toBe(true)
    expect(sum(lines, 'bypassed')).toBeGreaterThan(0)

    const htmlFile = join(dir, 'report.html')
    const [json, html] = await Promise.all([
      runCli(['report', '--json', fixture]),
      runCli(['report', '-', '--html', htmlFile], { input: timed.join('\n') }),
    ])
    expect(json.code).toBe(0)
    const summary = JSON.parse(json.stdout)
    const hits = sum(lines, 'hits')
    const misses = sum(lines, 'misses')
    const polls = lines
      .filter((line) => line.polled === true)
      .map((line) => line.streamMs as number)
      .sort((a, b) => a - b)
    // Times from EMF's _aws.Timestamp and the CloudWatch prefixes; bare lines have none.
    const times = [
      ...emfLines.map((w) => (w.line._aws as { Timestamp: number }).Timestamp),
      ...plainLines.filter((_, i) => i % 2 === 0).map((w) => w.at),
    ]
    expect(summary).toMatchObject({
      lines: {
        total: lines.length + noise.length + invalid.length,
        scache: lines.length,
        other: noise.length,
        invalid: invalid.length,
      },
      invocations: lines.length,
      hits,
      misses,
      bypassed: sum(lines, 'bypassed'),
      loads: sum(lines, 'loads'),
      evicted: sum(lines, 'evicted'),
      records: sum(lines, 'records'),
      pollMs: {
        count: polls.length,
        p50: percentile(polls, 0.5),
        p90: percentile(polls, 0.9),
        p99: percentile(polls, 0.99),
        max: polls.at(-1),
      },
      pollsSkipped: lines.filter((line) => line.pollSkipped === true).length,
      clears: { 'invalidate-all': lines.filter((l) => l.cleared === 'invalidate-all').length },
      throttles: lines.filter((line) => line.throttled === true).length,
      streamErrors: {
        count: lines.filter((line) => line.streamError !== undefined).length,
        byName: { ProvisionedThroughputExceededException: expect.any(Number) },
      },
      from: new Date(Math.min(...times)).toISOString(),
      to: new Date(Math.max(...times)).toISOString(),
    })
    expect(summary.hitRatio).toBeCloseTo(hits / (hits + misses), 10)
    expect(summary.savedMs).toBeCloseTo(sum(lines, 'savedMs'), 1)
    expect(summary.streamMs).toBeCloseTo(sum(lines, 'streamMs'), 1)
    expect(summary.netMs).toBeCloseTo(sum(lines, 'savedMs') - sum(lines, 'streamMs'), 1)
    expect(summary.perInvocation.streamMs).toBeCloseTo(sum(lines, 'streamMs') / lines.length, 1)
    expect(json.stderr).toMatch(/4 other lines skipped, 2 invalid/)

    // Text summary on stdout, and the HTML page: an SVG chart of the timed lines, self-contained.
    expect(html.code).toBe(0)
    expect(html.stdout).toMatch(/hit ratio\s+\d+\.\d %/)
    const page = readFileSync(htmlFile, 'utf8')
    const svg = page.slice(page.indexOf('<svg'), page.indexOf('</svg>') + 6)
    expect(svg).toMatch(/^<svg [^>]*viewBox=/)
    const saved = [...svg.matchAll(/<rect class="saved"[^>]*><title>[^<]*: ([\d.]+) ms saved/g)]
    const spent = [
      ...svg.matchAll(/<rect class="spent"[^>]*><title>[^<]*: ([\d.]+) ms on the stream/g),
    ]
    expect(saved.length).toBeGreaterThan(1)
    expect(spent).toHaveLength(saved.length)
    const timedLines = [...emfLines, ...plainLines.filter((_, i) => i % 2 === 0)].map((w) => w.line)
    const plotted = saved.reduce((total, match) => total + Number(match[1]), 0)
    expect(plotted).toBeCloseTo(sum(timedLines, 'savedMs'), 0)
    for (const label of ['time saved (ms)', 'time on the stream (ms)', 'time (UTC)', 'hit ratio'])
      expect(page).toContain(label)
    expect(page).not.toMatch(/<script|<link|<img|<iframe|\bsrc=|\bhref=|url\(|@import|https?:/i)
  })
})
