// Type tests, checked by `tsc` (npm run typecheck): `estimateBytes` and its options as the
// package exports them, and as `sizeOf` takes them.
import { createScache, type EstimateOptions, estimateBytes } from 'scache'
import { expectTypeOf } from 'vitest'

expectTypeOf(estimateBytes).toBeCallableWith({ id: 1 })
expectTypeOf(estimateBytes).toBeCallableWith({ id: 1 }, { madeBy: 'json' })
expectTypeOf(estimateBytes).toBeCallableWith({ id: 1 }, { madeBy: 'any' })
expectTypeOf(estimateBytes).returns.toEqualTypeOf<number>()
expectTypeOf<EstimateOptions['madeBy']>().toEqualTypeOf<'any' | 'json' | undefined>()

// @ts-expect-error: a `madeBy` other than 'any' or 'json'
estimateBytes({}, { madeBy: 'yaml' })
// @ts-expect-error: options are an object, not the key `sizeOf` is given
estimateBytes({}, 'users:1')

const stream = { name: 'orders' }
createScache({ stream, sizeOf: (value) => estimateBytes(value, { madeBy: 'json' }) })
// `sizeOf` is called with the key too, which is not options: wrap `estimateBytes`.
// @ts-expect-error: estimateBytes itself as `sizeOf`
createScache({ stream, sizeOf: estimateBytes })
