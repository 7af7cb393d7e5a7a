/**
 * A stand-in processor thread for processor-thread.test.ts: reports liveness every 50 ms; the first
 * one (no marker file yet) creates the marker and dies 150 ms after it started, the next one lives
 * until told to stop. The marker's path comes in `config.processor.reactionsGroup`.
 */
import { existsSync, writeFileSync } from 'node:fs'
import { parentPort, workerData } from 'node:worker_threads'
import type { FromThread, ThreadData, ToThread } from '../processor-thread.ts'

const port = parentPort!
const { processor, config } = workerData as ThreadData
const marker = config.processor.reactionsGroup
const send = (m: FromThread) => port.postMessage(m)
const crash = !existsSync(marker)
if (crash) writeFileSync(marker, 'crashed once')
const startedAt = new Date().toISOString()

send({ type: 'started' })
setInterval(() => send({ type: 'liveness', liveness: [{ processor, group: 'crash-once', state: 'ok', lag: crash ? 1 : 0, last_commit_at: startedAt }] }), 50)
port.on('message', (m: ToThread) => {
  if (m.type === 'metrics') return send({ type: 'metrics', id: m.id, metrics: [] })
  process.exit(0)
})
if (crash) setTimeout(() => process.exit(3), 150)
