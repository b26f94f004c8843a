// kinesalite answers GetShardIterator(AT_TIMESTAMP) with the first record at or after the
// timestamp, and never answers at all when there is none (the request hangs). Real Kinesis
// returns an iterator at the tip of the shard. This shim, installed in require.cache before
// kinesalite loads its actions, gives kinesalite the real behaviour: it takes a LATEST-style
// position first, then looks for a record at or after the timestamp, so a record put meanwhile
// is never skipped.
const db = require('kinesalite/db')
const original = require('kinesalite/actions/getShardIterator')

function getShardIterator(store, data, cb) {
  if (
    data.ShardIteratorType !== 'AT_TIMESTAMP' ||
    data.Timestamp == null ||
    data.Timestamp * 1000 > Date.now()
  ) {
    return original(store, data, cb)
  }
  let shardIx
  try {
    shardIx = db.resolveShardId(data.ShardId).shardIx
  } catch {
    return original(store, data, cb)
  }
  store.getStream(data.StreamName, (err, stream) => {
    if (err || shardIx >= stream.Shards.length) return original(store, data, cb)
    const shardSeqObj = db.parseSequence(
      stream.Shards[shardIx].SequenceNumberRange.StartingSequenceNumber,
    )
    const tip = db.stringifySequence({
      shardCreateTime: shardSeqObj.shardCreateTime,
      seqIx: stream._seqIx[Math.floor(shardIx / 5)],
      seqTime: Date.now(),
      shardIx: shardSeqObj.shardIx,
    })
    const range = { gt: db.shardIxToHex(shardIx), lt: db.shardIxToHex(shardIx + 1) }
    db.lazy(store.getStreamDb(data.StreamName).createReadStream(range), cb)
      .filter((item) => item.value.ApproximateArrivalTimestamp >= data.Timestamp)
      .take(1)
      .join((items) => {
        if (items.length > 0) return original(store, data, cb)
        cb(null, {
          ShardIterator: db.createShardIterator(data.StreamName, db.shardIdName(shardIx), tip),
        })
      })
  })
}

require.cache[require.resolve('kinesalite/actions/getShardIterator')].exports = getShardIterator
