/**
 * Docker is not on the machines that develop and test Sluice, so docker-compose.yml and the
 * Dockerfile are never run here. What can be checked without it is checked: every variable they
 * give Sluice is one lib/config.ts reads (a misspelt one would be silently ignored), every file they
 * copy or mount exists, every deploy/ file is mounted, and Prometheus scrapes the roles compose runs.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { ENV_VARS } from '../lib/config.ts'

/** Variables Node.js itself reads, not Sluice. */
const NODE_VARS = ['NODE_OPTIONS', 'NODE_COMPILE_CACHE']

interface ComposeService {
  build?: unknown
  command?: string[]
  environment?: Record<string, string>
  volumes?: string[]
}

const compose = parse(readFileSync('docker-compose.yml', 'utf8'), { merge: true }) as { services: Record<string, ComposeService> }
const sluiceServices = Object.entries(compose.services).filter(([, s]) => s.build !== undefined)
const dockerfile = readFileSync('Dockerfile', 'utf8').replace(/\\\n/g, ' ')
const instructions = dockerfile
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l && !l.startsWith('#'))

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    return statSync(path).isDirectory() ? filesUnder(path) : [path]
  })
}

describe('docker-compose.yml', () => {
  it('runs each role of Sluice, with only variables lib/config.ts reads', () => {
    expect(sluiceServices.map(([, s]) => s.command?.join(' ')).sort()).toEqual(['--role ingest', '--role processor', '--role query'])
    for (const [name, service] of sluiceServices) {
      expect(Object.keys(service.environment ?? {}), `${name} gets the shared environment`).toContain('KAFKA_BROKERS')
      const unknown = Object.keys(service.environment ?? {}).filter((v) => !ENV_VARS.includes(v))
      expect(unknown, `variables of ${name} that Sluice does not read`).toEqual([])
    }
  })

  it('mounts files that exist, and every file of deploy/', () => {
    const sources = Object.values(compose.services)
      .flatMap((s) => s.volumes ?? [])
      .map((v) => v.split(':')[0]!)
      .filter((src) => src.startsWith('./'))
      .map((src) => src.slice(2))
    for (const src of sources) expect(existsSync(src), `${src} exists`).toBe(true)
    const mounted = (file: string) => sources.some((src) => file === src || file.startsWith(`${src}/`))
    expect(filesUnder('deploy').filter((f) => !mounted(f))).toEqual([])
  })

  it('has Prometheus scrape the role services compose runs, on their port', () => {
    const prometheus = parse(readFileSync('deploy/prometheus/prometheus.yml', 'utf8')) as {
      scrape_configs: Array<{ static_configs: Array<{ targets: string[] }> }>
    }
    const targets = prometheus.scrape_configs.flatMap((c) => c.static_configs.flatMap((s) => s.targets))
    expect(targets.sort()).toEqual(sluiceServices.map(([name]) => `${name}:8000`).sort())
  })
})

describe('Dockerfile', () => {
  it('sets only variables Sluice or Node.js reads', () => {
    const set = instructions
      .filter((l) => /^ENV\s/i.test(l))
      .flatMap((l) => [...l.slice(4).matchAll(/(?:^|\s)([A-Za-z_][A-Za-z0-9_]*)=/g)].map((m) => m[1]!))
    expect(set.length).toBeGreaterThan(0)
    expect(set.filter((v) => !ENV_VARS.includes(v) && !NODE_VARS.includes(v))).toEqual([])
  })

  it('copies sources that exist, runs as a non-root user and falls back from npm ci like ensure-deps.sh', () => {
    const copied = instructions
      .filter((l) => /^COPY\s/i.test(l) && !/--from=/.test(l))
      .flatMap((l) => l.split(/\s+/).slice(1, -1).filter((t) => !t.startsWith('--')))
    expect(copied.length).toBeGreaterThan(3)
    for (const src of copied) expect(existsSync(src), `${src} exists`).toBe(true)
    expect(instructions.filter((l) => /^FROM\s/i.test(l)).length).toBeGreaterThanOrEqual(2)
    expect(instructions.filter((l) => /^USER\s/i.test(l)).at(-1)).toBe('USER node')
    expect(dockerfile).toMatch(/npm ci --omit=dev[^\n]*\n?[^\n]*npm install --omit=dev/)
  })
})
