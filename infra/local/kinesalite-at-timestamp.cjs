// kinesalite answers GetShardIterator(AT_TIMESTAMP) with the first record at or after the
// timestamp, and never answers at all when there is none (the request hangs). Real Kinesis
// returns an iterator at the tip of the shard. This shim, installed in require.cache before
// kinesalite loads its actions, positions AT_TIMESTAMP iterators from the shard's records: at
// the first record at or after the timestamp; else just after the last record; else (an empty
// shard) at its start. A record put meanwhile always lands after that position.
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
    const range = { gt: db.shardIxToHex(shardIx), lt: db.shardIxToHex(shardIx + 1) }
    db.lazy(store.getStreamDb(data.StreamName).createReadStream(range), cb).join((items) => {
      const at = items.find((item) => item.value.ApproximateArrivalTimestamp >= data.Timestamp)
      const last = items.at(-1)
      const sequence = at
        ? at.key.split('/')[1]
        : last
          ? db.incrementSequence(db.parseSequence(last.key.split('/')[1]))
          : stream.Shards[shardIx].SequenceNumberRange.StartingSequenceNumber
      cb(null, {
        ShardIterator: db.createShardIterator(data.StreamName, db.shardIdName(shardIx), sequence),
      })
    })
  })
}

require.cache[require.resolve('kinesalite/actions/getShardIterator')].exports = getShardIterator
