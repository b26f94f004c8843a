import {
  type Backend,
  type PollCost,
  type StreamCostResult,
  type StreamCostRow,
  setupKey,
} from '../stream-cost.js'
import { measuredOn, met, n, type Section, table } from './format.js'

export const streamCostSection = (s: Section<StreamCostResult>): string => {
  const r = s.result
  const calls = (cost: PollCost) =>
    Object.entries(cost.calls)
      .map(([op, c]) => `${n(c)} ${op}`)
      .join(' + ')
  const servedBy = (row: StreamCostRow): string =>
    row.backend === 'proxy' ? 'the proxy, at once' : 'kinesalite'
  const rows = r.rows.map((row) => [
    `${row.shards}`,
    `${row.latencyMs} ms`,
    servedBy(row),
    calls(row.scache),
    calls(row.baseline),
    `**${n(row.callRatio)}×**`,
    `${n(row.scache.p50Ms)} (p90 ${n(row.scache.p90Ms)})`,
    `${n(row.baseline.p50Ms)} (p90 ${n(row.baseline.p90Ms)})`,
    `${n(row.timeRatio)}×`,
    `${row.scache.throttled + row.baseline.throttled}`,
  ])
  const cpuRows = r.rows.flatMap((row) =>
    (
      [
        ['scache', row.scache],
        ['a-h/scache', row.baseline],
      ] as const
    ).map(([name, cost]) => [
      name,
      `${row.shards}`,
      `${row.latencyMs} ms`,
      servedBy(row),
      `${n(cost.callsTotal)}`,
      n(cost.p50Ms),
      n(cost.clientCpuMs),
      n(cost.hostCpuMs),
    ]),
  )
  const one = r.rows.find((row) => row.shards === 1 && row.latencyMs === 0)
  const most = Math.max(...r.rows.map((row) => row.shards))
  const find = (shards: number, latencyMs: number, backend: Backend) =>
    r.rows.find(
      (row) => row.shards === shards && row.latencyMs === latencyMs && row.backend === backend,
    )?.scache
  const emulated = r.rows.filter((row) => row.backend === 'kinesalite' && row.shards === 1)
  const ratioAt = (latencyMs: number, backend: Backend): number =>
    r.fourToOneShard[setupKey(latencyMs, backend)] ?? Number.NaN
  const extra = (latencyMs: number): string => {
    const a = find(1, latencyMs, 'kinesalite')
    const b = find(most, latencyMs, 'kinesalite')
    if (a === undefined || b === undefined) return ''
    return `with ${latencyMs} ms added, ${n(b.p50Ms - a.p50Ms)} ms more wall time, while the host spent ${n(b.hostCpuMs - a.hostCpuMs)} ms more CPU and the client ${n(b.clientCpuMs - a.clientCpuMs)} ms more`
  }
  const answered = r.rows.find((row) => row.backend === 'proxy')?.latencyMs ?? Number.NaN
  const answeredOne = find(1, answered, 'proxy')
  const answeredMost = find(most, answered, 'proxy')
  const answeredRatio = ratioAt(answered, 'proxy')
  const clientFloor =
    answeredOne && answeredMost
      ? (answered + answeredMost.clientCpuMs) / (answered + answeredOne.clientCpuMs)
      : Number.NaN
  const emulatedOk = emulated.every((row) => ratioAt(row.latencyMs, 'kinesalite') <= 1.2)
  return `## 3. Stream cost per warm poll

${measuredOn(s.machine)}

${table(
  [
    'shards',
    'added latency',
    'GetRecords served by',
    'scache calls / poll',
    'a-h/scache calls / poll',
    'fewer calls',
    'scache ms (p50)',
    'a-h/scache ms (p50)',
    'faster',
    'throttled',
  ],
  rows,
)}

Where a poll's time goes (${r.polls} polls of each reader, p50 of each column, ms per poll): wall
time as the client measures it, the CPU of the client's process (the reader, the AWS SDK client,
Node's HTTP) and the CPU of the host process (kinesalite and the limits proxy; it includes about
${n(r.hostQueryCpuMs)} ms of answering the benchmark's CPU query).

${table(
  [
    'reader',
    'shards',
    'added latency',
    'GetRecords served by',
    'calls',
    'wall',
    'client CPU',
    'host CPU',
  ],
  cpuRows,
)}

- Calls at 1 shard: a-h/scache makes **${n(one?.callRatio ?? Number.NaN)}×** as many (target ≥ 3×:
  ${met((one?.callRatio ?? 0) >= 3)}). Its ListShards and GetShardIterator per request are gone; what is
  left is one GetRecords per shard, the least a poll can make. At ${most} shards the ratio is
  (1 + 2 × ${most}) / ${most} = ${n((1 + 2 * most) / most)}×: the shard count multiplies both.
- scache's ${most}-shard poll against its 1-shard poll, against kinesalite: ${emulated.map((row) => `**${n(ratioAt(row.latencyMs, 'kinesalite'))}×** with ${row.latencyMs} ms added`).join(', ')} (target ≤ 1.2×: ${met(emulatedOk)}).
  scache sends the ${most} GetRecords at once: ${emulated.map((row) => extra(row.latencyMs)).join('; ')}.
  The host is one Node process: it serves the parallel calls one after the other, where a real
  Kinesis serves each shard on its own machines; and on this ${s.machine.cores}-core machine the host
  and the client share the cores (with anything else running). The client's own CPU grows with
  the shard count too: the AWS SDK serialises, signs and parses each GetRecords on the client's one
  thread (scache's reader itself costs microseconds per poll: see the middleware overhead).
- With the emulator's share taken out, the proxy answering each GetRecords itself (at once, all
  shards in parallel, as Kinesis' fleet serves one client) with ${answered} ms added: **${n(answeredRatio)}×**
  (target ≤ 1.2×: ${met(answeredRatio <= 1.2)}). What is left is the client's CPU per call, and the
  latency plus the client's CPU predicts it: (${answered} + ${n(answeredMost?.clientCpuMs ?? Number.NaN)}) / (${answered} + ${n(answeredOne?.clientCpuMs ?? Number.NaN)}) = ${n(clientFloor)}×.
- Against a real Kinesis a scache poll costs one round trip whatever the shard count, plus the
  client's CPU per call; a-h/scache's sequential reads cost (1 + 2 × shards) round trips.
`
}

/** The stream cost's lines in the report's summary: calls at 1 shard, then 4 shards against 1. */
export const streamCostSummary = (s: Section<StreamCostResult>): string[][] => {
  const one = s.result.rows.find((row) => row.shards === 1 && row.latencyMs === 0)
  const summary = [
    [
      'Kinesis calls per warm poll, a-h/scache / scache, 1 shard',
      `${n(one?.callRatio ?? Number.NaN)}×`,
      '≥ 3×',
      met((one?.callRatio ?? 0) >= 3),
    ],
  ]
  for (const { latencyMs, backend } of s.result.rows.filter((row) => row.shards === 1)) {
    const ratio = s.result.fourToOneShard[setupKey(latencyMs, backend)] ?? Number.NaN
    const servedBy = backend === 'proxy' ? 'GetRecords answered by the proxy' : 'kinesalite'
    summary.push([
      `4-shard poll / 1-shard poll (${latencyMs} ms added per call, ${servedBy})`,
      `${n(ratio)}×`,
      '≤ 1.2×',
      met(ratio <= 1.2),
    ])
  }
  return summary
}
