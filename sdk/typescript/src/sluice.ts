import { AsyncLocalStorage } from 'node:async_hooks'
import { isoTime } from './encode.ts'
import { resolveOptions, type ResolvedOptions, type SluiceOptions } from './options.ts'
import { emitLog, Run, type ActiveContext, type LogEntry, type Recorder, type RunOptions, type Step } from './tracing.ts'
import { Transport, type SluiceStats } from './transport.ts'

/**
 * The Sluice client: records runs, steps and logs, and sends them to `<endpoint>/ingest` in the
 * background, in batches.
 *
 * @example
 *   const sluice = new Sluice({ endpoint: 'http://localhost:8000', apiKey: process.env.SLUICE_INGEST_KEY! })
 *   const kept = await sluice.run({ name: 'recs' }, (run) =>
 *     run.step({ name: 'dedupe', type: 'filter' }, (step) => step.processCandidates(items, (c) => c.ok || 'duplicate')))
 *   await sluice.shutdown()
 */
export class Sluice {
  private readonly options: ResolvedOptions
  private readonly transport: Transport
  private readonly context = new AsyncLocalStorage<ActiveContext>()
  private readonly recorder: Recorder

  /** Throws a TypeError or RangeError when an option is wrong; nothing else the client does throws. */
  constructor(options: SluiceOptions) {
    this.options = resolveOptions(options)
    this.transport = new Transport(this.options)
    const o = this.options
    const transport = this.transport
    this.recorder = {
      now: () => o.clock(),
      newId: () => o.generateId(),
      emit: (type, timestamp, data) => transport.enqueue({ id: o.generateId(), type, timestamp: isoTime(timestamp), data }),
      context: this.context,
      debug: (message) => {
        if (o.debug) console.error(`[sluice] ${message}`)
      },
    }
  }

  /**
   * Runs `fn` as one run of a pipeline: sends `run_start` at once, and `run_complete` when `fn`
   * returns (`completed`) or throws (`failed`, with the error's message; the error is rethrown).
   * Resolves to what `fn` returns.
   */
  async run<T>(options: RunOptions, fn: (run: Run) => T | Promise<T>): Promise<T> {
    const run = new Run(this.recorder, options)
    let result: T
    try {
      result = await this.context.run({ run }, () => fn(run))
    } catch (err) {
      run.finish(err, true)
      throw err
    }
    run.finish()
    return result
  }

  /** A log line; inside a run (`sluice.run` callback) it carries that run's id. */
  log(entry: LogEntry): void {
    try {
      emitLog(this.recorder, entry, entry.runId ?? this.context.getStore()?.run.id)
    } catch (err) {
      this.recorder.debug(`log not recorded: ${String(err)}`)
    }
  }

  /** The run whose callback this code runs in, if any. */
  currentRun(): Run | undefined {
    return this.context.getStore()?.run
  }

  /** The innermost step whose callback this code runs in, if any. */
  currentStep(): Step | undefined {
    return this.context.getStore()?.step
  }

  /** Sends everything recorded so far; resolves when each event is sent or given up on. Never rejects. */
  flush(): Promise<void> {
    return this.transport.flush()
  }

  /**
   * Flushes and stops the client, waiting at most `timeoutMs` (default `shutdownTimeoutMs`, 5 s).
   * Resolves true when everything was delivered or given up on in time, false otherwise.
   */
  shutdown(timeoutMs?: number): Promise<boolean> {
    return this.transport.shutdown(timeoutMs)
  }

  /** Counters: queued, in flight, sent, requests, retries, dropped by reason. */
  stats(): SluiceStats {
    return this.transport.stats()
  }
}
