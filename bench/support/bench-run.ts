/**
 * What every bench script does around its measurements: progress lines on stderr, waiting while
 * the local Kafka is still starting, and cleaning up (children, topics, temporary directories) in
 * reverse order at the end, on a failure or on Ctrl-C.
 */
import { sleep } from './load.ts'

const RETRY_KAFKA_MS = 180_000

/** A progress line on stderr (stdout carries the Markdown figures). */
export const note = (line: string): void => {
  process.stderr.write(`[bench] ${line}\n`)
}

export type Cleanups = Array<[string, () => Promise<unknown>]>

/** The local services may be restarting: retry `fn` while Kafka refuses connections (3 minutes at most). */
export async function retryWhileKafkaStarts<T>(what: string, fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + RETRY_KAFKA_MS
  for (;;) {
    try {
      return await fn()
    } catch (err) {
      const message = err instanceof Error ? `${err.message} ${String((err as { cause?: unknown }).cause ?? '')}` : String(err)
      const transient = /ECONNREFUSED|Could not reach kafka|Connection error|KafkaJSConnectionError|NumberOfRetriesExceeded/i.test(message)
      if (!transient || Date.now() > deadline) throw err
      note(`${what}: Kafka not reachable yet (${message.slice(0, 120).replace(/\s+/g, ' ')}); retrying in 3 s`)
      await sleep(3_000)
    }
  }
}

/** Runs `main`, then every cleanup pushed meanwhile, last first; SIGINT/SIGTERM clean up and exit 130. */
export async function runBench(main: () => Promise<void>, cleanups: Cleanups): Promise<void> {
  const cleanup = async () => {
    for (const [name, fn] of cleanups.reverse()) {
      await fn().catch((err: unknown) => note(`cleanup ${name} failed: ${String(err)}`))
    }
    cleanups.length = 0
  }
  let interrupted = false
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (interrupted) return
      interrupted = true
      note(`${signal}: stopping children and cleaning up`)
      void cleanup().finally(() => process.exit(130))
    })
  }
  try {
    await main()
  } catch (err) {
    process.exitCode = 1
    console.error(err)
  } finally {
    if (!interrupted) await cleanup()
  }
}
