/**
 * Where the event schema lives on disk, and the names the codec relies on.
 *
 * schemas/event-envelope.avsc is the current reader/writer schema (subject `sluice.events-value`);
 * schemas/history/event-envelope.vN.avsc are the versions that have shipped, v1 first. The rule
 * (enforced by schemas/compatibility.test.ts): the current file equals the newest history file.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { EventType } from '../event-types.ts'

export const CURRENT_SCHEMA_PATH = fileURLToPath(new URL('../../schemas/event-envelope.avsc', import.meta.url))
export const HISTORY_DIR = fileURLToPath(new URL('../../schemas/history/', import.meta.url))

/** The Schema Registry subject of the current file (topic `sluice.events`, TopicNameStrategy). */
export const EVENT_ENVELOPE_SUBJECT = 'sluice.events-value'

/** Full name of the payload union branch (a record in schemas/event-envelope.avsc) per event type. */
export const PAYLOAD_RECORD_BY_TYPE: Readonly<Record<EventType, string>> = {
  run_start: 'dev.sluice.RunStart',
  step_complete: 'dev.sluice.StepComplete',
  run_complete: 'dev.sluice.RunComplete',
  log: 'dev.sluice.Log',
}

export interface HistorySchema {
  version: number
  path: string
  schema: unknown
}

const HISTORY_FILE = /^event-envelope\.v(\d+)\.avsc$/

export function loadCurrentSchema(): unknown {
  return readSchemaFile(CURRENT_SCHEMA_PATH)
}

/** Every schemas/history/event-envelope.vN.avsc, oldest first (numeric order: v10 after v9). */
export function loadHistorySchemas(dir: string = HISTORY_DIR): HistorySchema[] {
  const found: HistorySchema[] = []
  for (const name of readdirSync(dir)) {
    const match = HISTORY_FILE.exec(name)
    if (!match) continue
    const path = join(dir, name)
    found.push({ version: Number(match[1]), path, schema: readSchemaFile(path) })
  }
  return found.sort((a, b) => a.version - b.version)
}

function readSchemaFile(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as unknown
  } catch (err) {
    throw new Error(`cannot read Avro schema ${path}: ${(err as Error).message}`, { cause: err })
  }
}
