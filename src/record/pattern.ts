/**
 * Key patterns: `users:*:profile`. A key is `:`-separated segments; a pattern has as many
 * segments, and `*` in one stands for any run of characters within that segment (none included),
 * never across a `:`. So `users:*:profile` matches `users:42:profile` but neither
 * `users:42:settings` nor `users:42:x:profile`, and `orders:2026-*` matches `orders:2026-01`.
 */

/** Limits of a pattern, the same for writers (rejected) and readers (dropped and counted). */
export const patternLimits = {
  /** In UTF-16 code units, as keys. */
  maxLength: 1_024,
  /** `:`-separated segments. */
  maxSegments: 32,
} as const

/** Why `pattern` is not a valid key pattern, or undefined when it is. */
export const patternProblem = (pattern: unknown): string | undefined => {
  if (typeof pattern !== 'string') return `must be a string (got ${typeof pattern})`
  if (pattern.length === 0) return 'must not be empty'
  if (pattern.length > patternLimits.maxLength)
    return `must be at most ${patternLimits.maxLength} characters (got ${pattern.length})`
  let segments = 1
  for (let i = 0; i < pattern.length; i++) if (pattern.charCodeAt(i) === 0x3a) segments++
  if (segments > patternLimits.maxSegments)
    return `must have at most ${patternLimits.maxSegments} segments (got ${segments})`
  return undefined
}

/** A pattern compiled once: what every candidate key is matched against. */
export interface KeyPattern {
  readonly source: string
  /** The literal text before the first `*`: every key the pattern matches starts with it. */
  readonly literalPrefix: string
  matches(key: string): boolean
}

/** One segment: its literal pieces between the `*`s (one piece when it has none). */
type Segment = readonly string[]

/**
 * Whether `text` matches the segment `pieces`: it starts with the first, ends with the last, and
 * holds the middle ones in order in between. Leftmost matching of each piece is enough when `*`
 * is the only wildcard, so the cost is a few `indexOf`s, never a backtracking search.
 */
const segmentMatches = (pieces: Segment, text: string): boolean => {
  const first = pieces[0] as string
  if (pieces.length === 1) return text === first
  const last = pieces[pieces.length - 1] as string
  if (text.length < first.length + last.length) return false
  if (!text.startsWith(first) || !text.endsWith(last)) return false
  let from = first.length
  const end = text.length - last.length
  for (let i = 1; i < pieces.length - 1; i++) {
    const piece = pieces[i] as string
    const at = text.indexOf(piece, from)
    if (at === -1 || at + piece.length > end) return false
    from = at + piece.length
  }
  return true
}

/** Compiles a valid pattern (see `patternProblem`). */
export const compilePattern = (source: string): KeyPattern => {
  const segments: Segment[] = source.split(':').map((segment) => segment.split('*'))
  const star = source.indexOf('*')
  const literalPrefix = star === -1 ? source : source.slice(0, star)
  return {
    source,
    literalPrefix,
    matches(key: string): boolean {
      if (!key.startsWith(literalPrefix)) return false
      const parts = key.split(':')
      if (parts.length !== segments.length) return false
      for (let i = 0; i < parts.length; i++)
        if (!segmentMatches(segments[i] as Segment, parts[i] as string)) return false
      return true
    },
  }
}
