/**
 * CPU µs per event of Sluice's own work on /ingest bodies: JSON parse, guard, validation, Avro,
 * the acceptor's loop and metrics; no HTTP, and a producer that sends nothing (Kafka's share is
 * what `npm run bench:ingest` compares against). Process CPU time, not wall time, so it holds on a
 * busy machine better than throughput does. Never part of `npm test`.
 *
 *   node bench/ingest-accept-cpu.ts                        # this checkout, 1000-event bodies
 *   node bench/ingest-accept-cpu.ts --root /tmp/other --batch 500 --bodies 1500
 *
 * `--root` names another checkout (a copy of an earlier commit, node_modules linked) whose
 * ingest code is measured with this file's workload: alternate two roots to compare commits.
 */
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { chunk, generateRuns, toHttpBatch } from './support/workload.ts'

const { values: args } = parseArgs({
  options: {
    root: { type: 'string', default: fileURLToPath(new URL('..', import.meta.url)) },
    batch: { type: 'string', default: '1000' },
    bodies: { type: 'string', default: '1500' },
  },
})
const root = path.resolve(args.root)
const batch = Number(args.batch)

const { decodeBody } = (await import(path.join(root, 'ingest/json-body-parser.ts'))) as typeof import('../ingest/json-body-parser.ts')
const { createBatchAcceptor } = (await import(path.join(root, 'ingest/batch-acceptor.ts'))) as typeof import('../ingest/batch-acceptor.ts')
const { createEventCodec } = (await import(path.join(root, 'lib/avro/event-codec.ts'))) as typeof import('../lib/avro/event-codec.ts')
const { createMetrics } = (await import(path.join(root, 'lib/metrics.ts'))) as typeof import('../lib/metrics.ts')
const { createLogger } = (await import(path.join(root, 'lib/logger.ts'))) as typeof import('../lib/logger.ts')

const bodies = chunk(
  generateRuns(Math.ceil((3 * batch) / 7) + 1, 20260301).flatMap((r) => r.events),
  batch,
).map(toHttpBatch)
const accept = createBatchAcceptor({
  codec: createEventCodec(),
  producer: { connect: async () => {}, send: async () => {}, disconnect: async () => {} },
  topic: 'bench.accept-cpu',
  maxBatchEvents: batch,
  maxEventBytes: 1_000_000,
  rateLimiter: async () => ({ allowed: true, eventsPerSecond: 0, retryAfterSeconds: 0 }),
  metrics: createMetrics(),
  logger: createLogger({ level: 'silent' }),
})
const limits = { maxBodyBytes: 100_000_000, maxDecompressedBytes: 100_000_000 }

async function acceptBody(i: number): Promise<void> {
  // TRICKY: before the parser reported whether a body holds a `\u` escape it passed the size alone.
  let decoded: { bytes: number; mayHoldUnstorableText: boolean } | number = 0
  const body = (await decodeBody(undefined, bodies[i % bodies.length]!.json, limits, (d: typeof decoded) => (decoded = d) as never)) as { events: unknown[] }
  const ctx = typeof decoded === 'number' ? { bytes: decoded, mayHoldUnstorableText: true } : decoded
  const result = await accept(body.events, { projectId: 'bench', requestId: 'bench', bodyBytes: ctx.bytes, textMayBeUnstorable: ctx.mayHoldUnstorableText })
  if (result.processed !== batch) throw new Error(`accepted ${result.processed} of ${batch}`)
}

for (let i = 0; i < 300; i++) await acceptBody(i) // warm-up: optimized code, steady heap
const n = Number(args.bodies)
const before = process.cpuUsage()
for (let i = 0; i < n; i++) await acceptBody(i)
const used = process.cpuUsage(before)
process.stdout.write(`${root}: ${((used.user + used.system) / (n * batch)).toFixed(2)} µs CPU per event (${n} bodies of ${batch})\n`)
