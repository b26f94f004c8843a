import { describe, expect, it } from 'vitest'
import { packBatch } from '../../../src/log/pack.js'
import { encodeRecord } from '../../../src/record/index.js'

const record = (sequenceNumber: string, data: Uint8Array) => ({
  shard: 'shardId-0',
  sequenceNumber,
  data,
  arrivedAt: 1_000,
})

describe('the relay and records with tags or patterns', () => {
  it('appends them as invalidate-all: the log holds keys, prefixes and all only', () => {
    const none = { keys: [], prefixes: [], all: false }
    for (const tagged of [
      { ...none, tags: ['user:7'] },
      { ...none, patterns: ['users:*:profile'] },
    ]) {
      const packed = packBatch(
        'shardId-0',
        [
          record('1', encodeRecord({ ...none, keys: ['a:1'] }, 1)),
          record('2', encodeRecord(tagged, 1)),
          record('3', encodeRecord({ ...none, keys: ['a:2'] }, 1)),
        ],
        [],
        [],
      )
      expect(packed.entries).toEqual([
        { keys: ['a:2'], prefixes: [], all: true, shard: 'shardId-0', upTo: 1_000 },
      ])
    }
  })
})
