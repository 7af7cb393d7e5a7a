/**
 * Readiness probe used by scripts/kafka-up.sh:
 *
 *   node scripts/kafka/wait-ready.ts 127.0.0.1:19092 [timeoutSeconds=60]
 *
 * Retries a metadata request (admin describeCluster) until the answer lists a broker on the
 * expected port, which in KRaft means the broker has registered with the controller and been
 * unfenced. Exits 0 when ready, 1 on timeout (with the last error on stderr).
 */
import { Kafka, logLevel } from 'kafkajs'

const [broker = '127.0.0.1:19092', timeoutArg = '60'] = process.argv.slice(2)
const timeoutMs = Number(timeoutArg) * 1000
const expectedPort = Number(broker.split(':').pop())

const kafka = new Kafka({
  clientId: 'sluice-kafka-up',
  brokers: [broker],
  logLevel: logLevel.NOTHING,
  connectionTimeout: 1000,
  requestTimeout: 3000,
  retry: { retries: 0 },
})

async function probe(): Promise<void> {
  const admin = kafka.admin()
  try {
    await admin.connect()
    const cluster = await admin.describeCluster()
    if (!cluster.brokers.some((b) => b.port === expectedPort)) {
      throw new Error(`metadata lists no broker on port ${expectedPort} yet: ${JSON.stringify(cluster.brokers)}`)
    }
  } finally {
    await admin.disconnect().catch(() => undefined)
  }
}

const deadline = Date.now() + timeoutMs
let lastError: unknown
for (;;) {
  try {
    await probe()
    process.exit(0)
  } catch (err) {
    lastError = err
  }
  if (Date.now() > deadline) break
  await new Promise((resolve) => setTimeout(resolve, 150))
}
const message = lastError instanceof Error ? lastError.message : String(lastError)
process.stderr.write(`[kafka] not ready after ${timeoutArg}s: ${message}\n`)
process.exit(1)
