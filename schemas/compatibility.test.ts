/**
 * Schema evolution guard for the event envelope (subject `sluice.events-value`).
 *
 * - schemas/history/event-envelope.vN.avsc are the versions that shipped, numbered from 1 without
 *   gaps; schemas/event-envelope.avsc must equal the newest one, so nobody changes the schema
 *   without recording a version.
 * - Every consecutive pair, and the newest version against the current file, must be compatible
 *   both ways (FULL): the newer schema reads the older one's data (backward: consumers can be
 *   upgraded while old messages sit in the topic) and the older schema reads the newer one's data
 *   (forward: consumers still on the old version keep working when producers upgrade first).
 *
 * Adding an event type (a new payload branch) is backward but not forward compatible: it will
 * fail here on purpose. Ship it by upgrading consumers first, and say so by relaxing this check
 * for that one pair in the same change.
 */
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { checkCompatibility, checkReadable } from '../lib/avro/compatibility.ts'
import { schemaFingerprint } from '../lib/avro/fingerprint.ts'
import { CURRENT_SCHEMA_PATH, loadCurrentSchema, loadHistorySchemas } from '../lib/avro/schema-files.ts'

const current = loadCurrentSchema()
const history = loadHistorySchemas()

describe('schemas/history', () => {
  it('holds v1..vN without gaps', () => {
    expect(history.length).toBeGreaterThan(0)
    expect(history.map((entry) => entry.version)).toEqual(history.map((_, i) => i + 1))
  })

  it('ends with the current schema (copy a changed schema to history as the next version)', () => {
    const newest = history.at(-1)
    expect(newest, 'no history versions').toBeDefined()
    expect(current, `${CURRENT_SCHEMA_PATH} differs from ${newest?.path}`).toStrictEqual(newest?.schema)
  })

  it('has no two versions with the same fingerprint (a version must change the wire format)', () => {
    const fingerprints = history.map((entry) => schemaFingerprint(entry.schema))
    expect(new Set(fingerprints).size).toBe(fingerprints.length)
  })

  it('names the subject and records in the current file as the codec expects', () => {
    const text = readFileSync(CURRENT_SCHEMA_PATH, 'utf8')
    const schema = JSON.parse(text) as { namespace: string; name: string; doc?: string }
    expect(`${schema.namespace}.${schema.name}`).toBe('dev.sluice.EventEnvelope')
    expect(schema.doc).toContain('sluice.events-value')
  })
})

const pairs: [string, unknown, unknown][] = []
for (let i = 1; i < history.length; i++) {
  const older = history[i - 1]
  const newer = history[i]
  if (older && newer) pairs.push([`v${older.version} -> v${newer.version}`, older.schema, newer.schema])
}
const newest = history.at(-1)
if (newest) pairs.push([`v${newest.version} -> current file`, newest.schema, current])

describe.each(pairs)('%s', (_name, older, newer) => {
  it('backward: the newer schema reads data written with the older one', () => {
    expect(checkReadable(older, newer)).toEqual([])
  })

  it('forward: the older schema reads data written with the newer one', () => {
    expect(checkReadable(newer, older)).toEqual([])
  })
})

// The check above must be able to fail: feed it changes that break compatibility.
describe('the compatibility check', () => {
  interface MutableSchema {
    fields: { name: string; type: unknown; default?: unknown }[]
  }
  interface MutableRecord {
    name: string
    fields: { name: string; type: unknown; default?: unknown }[]
  }

  function changed(edit: (branches: MutableRecord[], envelope: MutableSchema) => void): unknown {
    const copy = structuredClone(current) as MutableSchema
    const payload = copy.fields.find((field) => field.name === 'payload')
    edit(payload?.type as MutableRecord[], copy)
    return copy
  }

  function branch(branches: MutableRecord[], name: string): MutableRecord {
    const found = branches.find((record) => record.name === name)
    if (!found) throw new Error(`no ${name}`)
    return found
  }

  it('accepts a new optional field with a default (positive control)', () => {
    const next = changed((branches) => {
      branch(branches, 'RunStart').fields.push({ name: 'owner', type: ['null', 'string'], default: null })
    })
    expect(checkCompatibility(current, next)).toEqual({ backward: [], forward: [] })
  })

  it('detects a new required field without a default (not backward compatible)', () => {
    const next = changed((branches) => {
      branch(branches, 'RunStart').fields.push({ name: 'priority', type: 'int' })
    })
    const report = checkCompatibility(current, next)
    expect(report.backward.join('\n')).toMatch(/no matching field for default-less .*priority/)
    expect(report.forward).toEqual([]) // old readers just skip the new field
  })

  it('detects a removed field that has no default (not forward compatible)', () => {
    const next = changed((branches) => {
      const log = branch(branches, 'Log')
      log.fields = log.fields.filter((field) => field.name !== 'message')
    })
    const report = checkCompatibility(current, next)
    expect(report.backward).toEqual([])
    expect(report.forward.join('\n')).toMatch(/no matching field for default-less dev\.sluice\.Log\.message/)
  })

  it('detects a changed field type in both directions', () => {
    const next = changed((branches) => {
      const tags = branch(branches, 'RunStart').fields.find((field) => field.name === 'tags')
      if (tags) tags.type = { type: 'map', values: 'int' }
    })
    const report = checkCompatibility(current, next)
    expect(report.backward).not.toEqual([])
    expect(report.forward).not.toEqual([])
  })

  it('detects a new event type (payload branch): backward compatible only', () => {
    const next = changed((branches) => {
      branches.push({ name: 'Heartbeat', fields: [{ name: 'at', type: 'long' }], type: 'record' } as MutableRecord)
    })
    const report = checkCompatibility(current, next)
    expect(report.backward).toEqual([])
    expect(report.forward.join('\n')).toMatch(/Heartbeat: the reader has no such branch/)
  })

  it('accepts a new log level thanks to the enum default', () => {
    const next = changed((branches) => {
      const level = branch(branches, 'Log').fields.find((field) => field.name === 'level')
      const levelType = level?.type as { symbols: string[] }
      levelType.symbols = ['trace', ...levelType.symbols]
    })
    expect(checkCompatibility(current, next)).toEqual({ backward: [], forward: [] })
  })

  it('reports an unparseable schema instead of throwing', () => {
    expect(checkReadable({ type: 'record', name: 'X' }, current)[0]).toMatch(/invalid schema/)
  })
})
