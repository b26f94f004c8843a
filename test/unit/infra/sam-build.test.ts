import { describe, expect, it } from 'vitest'
import { samEsbuildArgs } from '../../../infra/sam-build.js'

// aws-lambda-builders' EsbuildCommandBuilder, on properties SAM CLI has snake-cased.
describe('samEsbuildArgs', () => {
  it('puts the entry points first, then the builder’s defaults, then each property as a flag', () => {
    expect(
      samEsbuildArgs(
        {
          Format: 'esm',
          OutExtension: ['.js=.mjs'],
          Target: 'es2022',
          Platform: 'neutral',
          Minify: true,
          Sourcemap: false,
          External: ['@aws-sdk/*', 'pg'],
          MainFields: 'module,main',
          EntryPoints: ['src/a.ts', 'src/b.ts'],
          UseNpmCi: true,
        },
        '/out',
      ),
    ).toEqual([
      'src/a.ts',
      'src/b.ts',
      '--bundle',
      '--platform=node',
      '--outdir=/out',
      '--format=esm',
      '--out-extension:.js=.mjs',
      '--target=es2022',
      '--minify',
      '--external:@aws-sdk/*',
      '--external:pg',
      '--main-fields=module,main',
    ])
  })

  it('defaults to es2020, CommonJS and minified when the template does not say', () => {
    expect(samEsbuildArgs({ EntryPoints: ['app.ts'] }, 'o')).toEqual([
      'app.ts',
      '--bundle',
      '--platform=node',
      '--outdir=o',
      '--target=es2020',
      '--format=cjs',
      '--minify',
    ])
    expect(() => samEsbuildArgs({}, 'o')).toThrow(/EntryPoints/)
  })
})
