/**
 * scripts/with-node.sh: which Node versions it accepts, that it leaves a supported node on PATH
 * alone, and that package.json, the Dockerfile and the script name the same Node.
 */
import { execFileSync } from 'node:child_process'
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const SCRIPT = join(ROOT, 'scripts/with-node.sh')
const temp = mkdtempSync(join(tmpdir(), 'sluice-with-node-'))

afterAll(() => rmSync(temp, { recursive: true, force: true }))

function scriptVariable(name: string): string {
  const match = new RegExp(`^${name}=(\\S+)$`, 'm').exec(readFileSync(SCRIPT, 'utf8'))
  if (!match?.[1]) throw new Error(`${SCRIPT} sets no ${name}`)
  return match[1]
}

/** A `node` that only answers --version, in a folder of its own. */
function fakeNode(version: string): string {
  const dir = join(temp, `node-${version}`)
  mkdirSync(dir, { recursive: true })
  const file = join(dir, 'node')
  writeFileSync(file, `#!/bin/sh\necho ${version}\n`)
  chmodSync(file, 0o755)
  return file
}

function versionOk(version: string): boolean {
  try {
    execFileSync('bash', ['-c', `source ${JSON.stringify(SCRIPT)}; node_version_ok ${JSON.stringify(fakeNode(version))}`])
    return true
  } catch {
    return false
  }
}

describe('scripts/with-node.sh', () => {
  it('accepts Node 22.18 and later, refuses older ones', () => {
    expect(scriptVariable('SLUICE_NODE_MIN')).toBe('22.18.0')
    const versions = ['v18.20.8', 'v20.20.2', 'v22.17.1', 'v22.18.0', 'v22.21.1', 'v23.0.0', 'v24.22.3', 'v26.1.0-pre']
    const verdicts = Object.fromEntries(versions.map((v) => [v, versionOk(v)]))
    expect(verdicts).toEqual({
      'v18.20.8': false,
      'v20.20.2': false,
      'v22.17.1': false,
      'v22.18.0': true,
      'v22.21.1': true,
      'v23.0.0': true,
      'v24.22.3': true,
      'v26.1.0-pre': true,
    })
  })

  it('runs the command on a supported node on PATH as it is, installing nothing', () => {
    const home = join(temp, 'home')
    mkdirSync(home, { recursive: true })
    const env = {
      ...process.env,
      SLUICE_HOME: home,
      SLUICE_SYSTEM_NODE: '',
      NODE_OPTIONS: '',
      PATH: `${dirname(process.execPath)}:${process.env.PATH}`,
    }
    const report = 'echo "$(command -v node) $(node --version) $SLUICE_SYSTEM_NODE $NODE_OPTIONS"'
    const out = execFileSync('bash', [SCRIPT, 'sh', '-c', report], { env }).toString().trim()
    expect(out).toBe(`${process.execPath} ${process.version} ${process.execPath} --disable-warning=TimeoutNegativeWarning`)
    expect(readdirSync(home)).toEqual([])
  })

  it('the tests themselves run on a supported Node', () => {
    expect(versionOk(process.version)).toBe(true)
  })

  it('package.json engines, the Dockerfile and the pinned Node agree', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } }
    expect(pkg.engines.node).toBe(`>=${scriptVariable('SLUICE_NODE_MIN')}`)
    const major = scriptVariable('SLUICE_NODE_VERSION').split('.')[0]
    expect(readFileSync(join(ROOT, 'Dockerfile'), 'utf8')).toMatch(new RegExp(`^FROM node:${major}-[a-z]+-slim$`, 'm'))
  })
})
