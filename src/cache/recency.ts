/**
 * How long a hit leaves its entry's place in the store's recency order alone. An entry moves to
 * the most recently used end at most once per period of this length (memcached bumps an item at
 * most once a minute, for the same reason): a hit is then one lookup in the cache's own map of
 * entries, where moving the entry on every hit costs lru-cache's whole `get`. Eviction stays
 * least recently used to within a period.
 */
export const RECENCY_MS = 1_000

/**
 * The recency period `now` falls in, as an int32, so that V8 keeps it as a small integer in the
 * entry: the truncation wraps every 2^32 periods (136 years), and equality is all that is asked.
 */
export const recencyOf = (now: number): number => (now / RECENCY_MS) | 0
