import { spawn } from 'node:child_process'
import { describe, expect, it } from 'vitest'

describe('npm start (the local stack until Ctrl-C)', () => {
  it('serves the API, prints each log line with its container, and stops cleanly on SIGINT', async () => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'infra/local/start.ts', '--port', '0', '--containers', '2'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    )
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString()
    })
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString()
    })
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve))
    try {
      let url: string | undefined
      for (let i = 0; i < 300 && url === undefined; i++) {
        url = stdout.match(/Users API on (http:\/\/127\.0\.0\.1:\d+)/)?.[1]
        if (url === undefined) await new Promise((resolve) => setTimeout(resolve, 50))
      }
      expect(url, stdout + stderr).toBeDefined()
      const response = await fetch(`${url}/users/1`)
      expect(await response.json()).toEqual({ id: '1', name: 'Ada' })
      for (let i = 0; i < 100 && !stdout.includes('"message":"scache"'); i++)
        await new Promise((resolve) => setTimeout(resolve, 20))
      expect(stdout).toMatch(/users-publisher-1 +\{.*"message":"scache".*"misses":1/)
    } finally {
      child.kill('SIGINT')
    }
    expect(await exited).toBe(0)
  }, 30_000)

  it('rejects bad arguments with exit code 2', async () => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'infra/local/start.ts', '--invalidation', 'carrier-pigeon'],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    )
    let stderr = ''
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString()
    })
    expect(await new Promise((resolve) => child.on('exit', resolve))).toBe(2)
    expect(stderr).toMatch(/--invalidation must be publisher or table-stream/)
  }, 30_000)
})
