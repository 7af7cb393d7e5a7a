import type { Logger } from './logger.ts'

export type ShutdownStep = [name: string, run: () => Promise<unknown>]

/**
 * Runs shutdown steps in the order given, logging each, within one deadline. The order is the
 * caller's contract: stop intake, drain in-flight work, flush, then close connections.
 */
export async function shutdownInOrder(steps: readonly ShutdownStep[], options: { logger: Logger; timeoutMs: number }): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), options.timeoutMs)
  })
  const work = (async () => {
    for (const [name, run] of steps) {
      const started = Date.now()
      try {
        await run()
        options.logger.info({ step: name, ms: Date.now() - started }, 'shutdown step done')
      } catch (err) {
        options.logger.error({ err, step: name }, 'shutdown step failed')
      }
    }
    return true as const
  })()
  const finished = await Promise.race([work, deadline])
  clearTimeout(timer)
  if (!finished) options.logger.error({ timeoutMs: options.timeoutMs }, 'shutdown did not finish in time')
  return finished
}
