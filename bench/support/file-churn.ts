/**
 * The file system under a bench's data matters more than the CPU on this project's machines: their
 * root is ext4 without a journal, where creating a file skips every inode freed in the last 60 s
 * (300 s while its inode table block is unwritten), reading each one's deletion time. The embedded
 * ClickHouse creates about ten files per part, a dozen parts per flush; right after a bench removed
 * a data directory of tens of thousands of files, a flush of the next one took 2-3x the CPU
 * (docs/performance.md, "the file system"). So a bench says what it writes on, and
 * whether the last bench's cleanup is recent enough to slow it down.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { sluiceStateDir } from '../../scripts/local-services.ts'

/** ext4 keeps a freed inode out of reuse this long at most (fs/ext4/ialloc.c, no journal). */
const RECENTLY_DELETED_MS = 360_000
const MARKER = join(sluiceStateDir(), 'bench-last-cleanup')

/** The mount `path` lives on: its type, its device, and for ext4 whether it has a journal. */
export function describeFilesystem(path: string): string {
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
    .trim()
    .split('\n')
    .map((line) => {
      const [left, right] = line.split(' - ')
      return { point: left!.split(' ')[4]!, type: right!.split(' ')[0]!, device: right!.split(' ')[1]! }
    })
  const mount = mounts.filter((m) => path === m.point || path.startsWith(m.point.endsWith('/') ? m.point : `${m.point}/`)).sort((a, b) => b.point.length - a.point.length)[0]
  if (!mount) return 'unknown'
  const what = `${mount.type} on ${mount.device} (${mount.point})`
  if (mount.type !== 'ext4') return what
  const name = mount.device.replace(/^\/dev\//, '')
  const journaled = journals().some((j) => j.startsWith(`${name}-`))
  return journaled ? `${what}, journaled` : `${what}, without a journal: file creation slows after many deletions (bench/support/file-churn.ts)`
}

/** A warning when a bench removed its data less than 6 minutes ago, else undefined. */
export function recentCleanupWarning(): string | undefined {
  let at: number
  try {
    at = statSync(MARKER).mtimeMs
  } catch {
    return undefined
  }
  const ago = Date.now() - at
  if (ago >= RECENTLY_DELETED_MS) return undefined
  return `a bench removed its data ${Math.round(ago / 1000)} s ago: on ext4 without a journal that slows file creation for up to 6 minutes (pass --keep to the benches of a series and remove their directories after it)`
}

/** Removes a bench's data directory and notes when, for `recentCleanupWarning`. */
export function removeBenchData(dir: string): void {
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dirname(MARKER), { recursive: true })
  writeFileSync(MARKER, `${new Date().toISOString()} ${dir}\n`)
}

/** The journals the kernel runs (jbd2), as `<device>-<inode>`. */
function journals(): string[] {
  try {
    return readdirSync('/proc/fs/jbd2')
  } catch {
    return []
  }
}
