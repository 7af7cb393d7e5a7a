/**
 * The bench's events: runs of the test fixture's ranking pipeline, as the SDK JSON bodies /ingest
 * receives and as the exact Kafka messages /ingest would produce for them (same keys, headers and
 * Avro bytes, made by the project's own normalizer, partitioner and codec).
 */
import { EVENT_TYPE_HEADER, REQUEST_ID_HEADER } from '../../lib/kafka/headers.ts'
import { randomUUID } from 'node:crypto'
import { gzipSync } from 'node:zlib'
import { partitionKey } from '../../ingest/batch-acceptor.ts'
import { normalizeEvent } from '../../ingest/event-schema.ts'
import type { EventCodec } from '../../lib/avro/event-codec.ts'
import type { OutgoingMessage } from '../../lib/kafka/event-producer.ts'
import { generateRun, prng, type ContractEvent, type GeneratedRun } from '../../test/fixtures/pipeline-runs.ts'

/** An SDK event the bench sends: a run event of the fixture or a log. */
export type BenchEvent = ContractEvent | LogEvent

export interface LogEvent {
  id: string
  type: 'log'
  timestamp: string
  data: { level: string; message: string; service: string; attributes: Record<string, string | number | boolean>; run_id?: string }
}

/** One run of the fixture is a run_start, five step_completes and a run_complete. */
export const EVENTS_PER_RUN = 7

export interface HttpBatch {
  events: number
  json: Buffer
  gzip: Buffer
}

export function generateRuns(count: number, seed: number, pipeline = 'bench'): GeneratedRun[] {
  const rand = prng(seed)
  const now = Date.now()
  // Spread over the last hour, as a live pipeline's runs would be.
  return Array.from({ length: count }, (_, i) => generateRun(rand, pipeline, now - 3_600_000 + Math.floor((i * 3_600_000) / count)))
}

export function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = []
  for (let i = 0; i + size <= items.length; i += size) out.push(items.slice(i, i + size))
  return out
}

/** The body an SDK sends, plain and gzipped (compressed here, outside any timed loop). */
export function toHttpBatch(events: readonly ContractEvent[]): HttpBatch {
  const json = Buffer.from(JSON.stringify({ events }))
  return { events: events.length, json, gzip: gzipSync(json) }
}

/**
 * The messages /ingest produces for these events: normalized as ingest/batch-acceptor.ts does,
 * keyed by run, with the same two headers, encoded by the project's codec.
 */
export async function toKafkaMessages(events: readonly BenchEvent[], codec: EventCodec, projectId: string): Promise<OutgoingMessage[]> {
  const requestId = randomUUID()
  const receivedAt = Date.now()
  return Promise.all(
    events.map(async (raw) => {
      const result = normalizeEvent(raw, { projectId, receivedAt, requestId, newId: randomUUID })
      if (!('ok' in result)) throw new Error(`bench event does not validate: ${result.problem.message}`)
      const e = result.ok
      return {
        key: partitionKey(e),
        value: await codec.encode(e),
        headers: { [REQUEST_ID_HEADER]: requestId, [EVENT_TYPE_HEADER]: e.type },
      }
    }),
  )
}
