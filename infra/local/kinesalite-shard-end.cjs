// kinesalite reports a closed shard's end (no NextShardIterator) only on an empty read whose
// iterator carries a time at or after the shard's closing second; an iterator taken in an earlier
// second reads nothing and gets another iterator, as if the shard were open, and a page holding
// the shard's last records always gets one. Kinesis returns no NextShardIterator once "the shard
// has been closed and the requested iterator does not return any more data" (GetRecords), so a
// reader reaches the children in the same read; kinesalite's late end hid records already
// acknowledged on the children for a whole poll. This shim, installed in require.cache before
// kinesalite loads its actions, drops NextShardIterator when the shard is closed and nothing lies
// after the page.
const crypto = require('node:crypto')
const db = require('kinesalite/db')
const original = require('kinesalite/actions/getRecords')

/** The shard and position an iterator names, or undefined if it is not one of kinesalite's. */
const decodeIterator = (iterator) => {
  try {
    const buffer = Buffer.from(iterator, 'base64')
    const decipher = crypto.createDecipheriv('aes-256-cbc', db.ITERATOR_PWD_KEY, db.ITERATOR_PWD_IV)
    const pieces = Buffer.concat([decipher.update(buffer.subarray(8)), decipher.final()])
      .toString('utf8')
      .split('/')
    return { streamName: pieces[1], shardIx: db.resolveShardId(pieces[2]).shardIx, seq: pieces[3] }
  } catch {
    return undefined
  }
}

function getRecords(store, data, cb) {
  original(store, data, (err, result) => {
    if (err || result?.NextShardIterator === undefined) return cb(err, result)
    const position = decodeIterator(data.ShardIterator)
    if (position === undefined) return cb(err, result)
    store.getStream(position.streamName, (streamErr, stream) => {
      const shard = streamErr ? undefined : stream.Shards[position.shardIx]
      if (shard?.SequenceNumberRange?.EndingSequenceNumber == null) return cb(err, result)
      const prefix = db.shardIxToHex(position.shardIx)
      const last = result.Records.at(-1)
      const range = {
        ...(last === undefined
          ? { gte: `${prefix}/${position.seq}` }
          : { gt: `${prefix}/${last.SequenceNumber}` }),
        lt: db.shardIxToHex(position.shardIx + 1),
        limit: 1,
      }
      db.lazy(store.getStreamDb(position.streamName).createReadStream(range), cb).join((after) => {
        if (after.length === 0) result.NextShardIterator = undefined
        cb(null, result)
      })
    })
  })
}

require.cache[require.resolve('kinesalite/actions/getRecords')].exports = getRecords
