import { ScacheOptionsError } from './errors.js'

/** Option checks shared by `scache()`/`createScache()` and `createPublisher()`. */

/** A value as an error message shows it. */
export const describe = (value: unknown): string =>
  typeof value === 'string'
    ? JSON.stringify(value)
    : typeof value === 'object'
      ? typeof value
      : String(value)

export const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value)

/** Rejects keys of `value` not in `known`; `path` prefixes the offending key's name. */
export const onlyKnown = (
  path: string,
  value: object,
  known: readonly string[],
  what = 'an option',
): void => {
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) {
      throw new ScacheOptionsError(
        path === '' ? key : `${path}.${key}`,
        `is not ${what} (known: ${known.join(', ')})`,
      )
    }
  }
}

/** `value` as an integer in [min, max], or a ScacheOptionsError naming `path`. */
export const integer = (path: string, value: unknown, min: number, max: number): number => {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new ScacheOptionsError(
      path,
      `must be an integer from ${min} to ${max} (got ${describe(value)})`,
    )
  }
  return value
}
