/** Key–value pairs: a `Map`, an iterable of pairs, or a plain object. */
export type Entries<T = unknown> =
  | ReadonlyMap<string, T>
  | Iterable<readonly [string, T]>
  | Readonly<Record<string, T>>

/** The pairs of `entries`; a plain object's own keys only, never its prototype's. */
export const pairsOf = <T>(entries: Entries<T>): [string, T][] =>
  Symbol.iterator in entries
    ? [...(entries as Iterable<readonly [string, T]>)].map(([key, value]) => [key, value])
    : Object.keys(entries).map((key) => [key, (entries as Readonly<Record<string, T>>)[key] as T])
