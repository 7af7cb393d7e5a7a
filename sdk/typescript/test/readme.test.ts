import { spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { startFakeIngest, type FakeIngest } from './helpers/fake-ingest.ts'

// The README starts with a ten-line program that must run exactly as written.

let server: FakeIngest
let dir: string

beforeAll(async () => {
  server = await startFakeIngest()
  dir = mkdtempSync(join(tmpdir(), 'sluice-sdk-readme-'))
})

afterAll(async () => {
  await server.close()
  rmSync(dir, { recursive: true, force: true })
})

it('the README’s first example runs as written and sends its events', async () => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8')
  const example = /^```ts\n([\s\S]*?)\n```/.exec(readme)?.[1]
  expect(example, 'the README starts with a ```ts block').toBeDefined()
  expect(example!.split('\n').length).toBeLessThanOrEqual(10)

  // `@sluice/sdk` resolves to this package's source, as an install would resolve to its build.
  const pkg = join(dir, 'node_modules', '@sluice', 'sdk')
  mkdirSync(pkg, { recursive: true })
  writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name: '@sluice/sdk', type: 'module', exports: './src/index.ts' }))
  symlinkSync(fileURLToPath(new URL('../src', import.meta.url)), join(pkg, 'src'))
  writeFileSync(join(dir, 'example.mts'), example!)

  const root = fileURLToPath(new URL('../../../', import.meta.url))
  const child = spawn(process.execPath, ['--import', 'tsx', join(dir, 'example.mts')], {
    cwd: root,
    env: { ...process.env, SLUICE_ENDPOINT: server.url, SLUICE_INGEST_KEY: 'readme-key' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout.on('data', (c: Buffer) => (output += c.toString()))
  child.stderr.on('data', (c: Buffer) => (output += c.toString()))
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve))
  expect([code, output]).toEqual([0, ''])

  const events = server.requests.flatMap((r) => r.events)
  expect(events.map((e) => e.type)).toEqual(['run_start', 'step_complete', 'run_complete', 'log'])
  expect(events[1]!.data).toMatchObject({ name: 'dedupe', input_count: 3, output_count: 2, rejection_reasons: { duplicate: 1 } })
  expect(events[3]!.data).toEqual({ level: 'info', message: 'kept 2 of 3', service: 'recs' })
  expect(server.requests[0]!.headers.authorization).toBe('Bearer readme-key')
})
