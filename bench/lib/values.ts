/** A user record of about 1 KB as JSON, the shape the memory benchmarks cache most. */
export const userRecord = (i: number) => ({
  id: i,
  name: `user ${i}`,
  email: `user${i}@example.com`,
  roles: ['reader', 'writer'],
  address: { street: `${i} Main Street`, city: 'Springfield', zip: String(10_000 + i) },
  bio: 'y'.repeat(600),
})

/**
 * `value` as a handler gets it, decoded from a response: flat strings. (Built in place,
 * `'x'.repeat` and template literals make cons strings sharing their parts, which take a fraction
 * of the heap a decoded string does.)
 */
export const decoded = (value: unknown): unknown => JSON.parse(JSON.stringify(value))
