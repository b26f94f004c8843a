import type { KinesisClient } from '@aws-sdk/client-kinesis'
import { streamsFromEnv } from '../env.js'
import { ScacheOptionsError } from '../errors.js'
import { arnRegion, createDefaultClient } from '../stream/client.js'
import { describe, isObject, onlyKnown } from '../validate.js'

/** One stream a publisher writes to, in its own region if need be. */
export interface StreamTarget {
  /** Stream name or ARN. */
  readonly name: string
  /**
   * The stream's region, e.g. `eu-west-1`. Default: the ARN's region, else the client's
   * (`AWS_REGION`). Given with an ARN, it must be the ARN's.
   */
  readonly region?: string
  /**
   * Kinesis client for this stream, used as given. Default: one per region, built like the
   * publisher's default client for that region; or the publisher's `client`, when every stream
   * without one of its own is in one region.
   */
  readonly client?: KinesisClient
}

/** Where one stream's records go: its name, its region if known, and its client, built once. */
export interface Destination {
  readonly stream: string
  readonly region: string | undefined
  readonly client: () => KinesisClient
}

/** What `resolveDestinations` reads of the publisher's options. */
export interface StreamSelection {
  readonly streamName?: string
  readonly streamNames?: readonly string[]
  readonly streams?: readonly StreamTarget[]
  readonly client?: KinesisClient
}

// A region: letters in dash-separated groups and a number, e.g. us-east-1, us-gov-west-1.
const REGION = /^[a-z]{2}(-[a-z]+)+-\d{1,2}$/
const isClient = (value: unknown): boolean =>
  typeof value === 'object' && value !== null && 'send' in value

/** Rejects a stream selection that cannot be right: at construction, naming the option. */
export const validateStreams = (options: StreamSelection): void => {
  if (
    options.streamName !== undefined &&
    (typeof options.streamName !== 'string' || options.streamName === '')
  ) {
    throw new ScacheOptionsError(
      'streamName',
      `must be a stream name or ARN (got ${String(options.streamName)})`,
    )
  }
  const names: unknown = options.streamNames
  if (
    names !== undefined &&
    (!Array.isArray(names) ||
      names.length === 0 ||
      !names.every((name) => typeof name === 'string' && name !== '') ||
      options.streamName !== undefined)
  ) {
    throw new ScacheOptionsError(
      'streamNames',
      'must be a non-empty array of stream names or ARNs, given instead of streamName',
    )
  }
  if (options.client !== undefined && !isClient(options.client))
    throw new ScacheOptionsError('client', 'must be a KinesisClient')
  const streams: unknown = options.streams
  if (streams === undefined) return
  if (options.streamName !== undefined || options.streamNames !== undefined)
    throw new ScacheOptionsError('streams', 'is given instead of streamName or streamNames')
  if (!Array.isArray(streams) || streams.length === 0)
    throw new ScacheOptionsError(
      'streams',
      'must be a non-empty array of { name, region?, client? }',
    )
  const seen = new Set<string>()
  streams.forEach((target: unknown, index) => {
    const path = `streams[${index}]`
    if (!isObject(target))
      throw new ScacheOptionsError(
        path,
        `must be { name, region?, client? } (got ${describe(target)})`,
      )
    onlyKnown(path, target, ['name', 'region', 'client'])
    const { name, region, client } = target
    if (typeof name !== 'string' || name === '')
      throw new ScacheOptionsError(`${path}.name`, 'must be a stream name or ARN')
    if (region !== undefined && (typeof region !== 'string' || !REGION.test(region)))
      throw new ScacheOptionsError(
        `${path}.region`,
        `must be an AWS region such as eu-west-1 (got ${describe(region)})`,
      )
    const fromArn = arnRegion(name)
    if (region !== undefined && fromArn !== undefined && region !== fromArn)
      throw new ScacheOptionsError(`${path}.region`, `is ${region}, but the ARN is in ${fromArn}`)
    if (client !== undefined && !isClient(client))
      throw new ScacheOptionsError(`${path}.client`, 'must be a KinesisClient')
    const id = `${name}@${region ?? fromArn ?? ''}`
    if (seen.has(id)) throw new ScacheOptionsError(path, `names ${name} again`)
    seen.add(id)
  })
}

/**
 * The publisher's destinations: `streams`, else `streamNames`, else `streamName`, else the
 * environment (`SCACHE_STREAM_NAMES` or `SCACHE_STREAM_NAME`, src/env.ts). A stream's region is
 * its own, else its ARN's; each region gets one client (its own endpoint and signing region),
 * built on first use, so that a publisher that never publishes never builds one.
 */
export const resolveDestinations = (options: StreamSelection): Destination[] => {
  const targets: StreamTarget[] =
    options.streams?.map((target) => ({ ...target })) ??
    (
      options.streamNames ??
      (options.streamName === undefined ? streamsFromEnv() : [options.streamName]) ??
      []
    ).map((name) => ({ name }))
  if (targets.length === 0 || targets.some((target) => target.name === ''))
    throw new ScacheOptionsError(
      'streamName',
      'is required (or set SCACHE_STREAM_NAME, or SCACHE_STREAM_NAMES for replicas)',
    )
  const regionOf = (target: StreamTarget): string | undefined =>
    target.region ?? arnRegion(target.name)
  const shared = new Set(
    targets.filter((target) => target.client === undefined).map((target) => regionOf(target)),
  )
  shared.delete(undefined)
  // One client signs for one region and reaches one endpoint: it cannot serve two.
  if (options.client !== undefined && shared.size > 1)
    throw new ScacheOptionsError(
      'client',
      `reaches one region, but streams without a client of their own are in ${[...shared].join(', ')}: give each region's streams their own client`,
    )
  const defaults = new Map<string | undefined, KinesisClient>()
  const defaultClient = (region: string | undefined): KinesisClient => {
    let client = options.client ?? defaults.get(region)
    if (client === undefined) {
      client = createDefaultClient({ maxAttempts: 3 }, region === undefined ? {} : { region })
      defaults.set(region, client)
    }
    return client
  }
  return targets.map((target) => {
    const region = regionOf(target)
    const own = target.client
    return {
      stream: target.name,
      region,
      client: own === undefined ? () => defaultClient(region) : () => own,
    }
  })
}
