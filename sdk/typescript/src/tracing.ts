import type { AsyncLocalStorage } from 'node:async_hooks'
import { asRecord, errorText, isoTime, logAttributes, truncateText } from './encode.ts'

export interface RunOptions {
  /** The pipeline's name; runs of one name make up its funnel. */
  name: string
  /** String labels to filter runs by (`GET /runs?tag=env:prod`). */
  tags?: Record<string, string>
  /** Your own id for the run (a UUID); one is made otherwise. */
  runId?: string
}

export interface StepOptions {
  name: string
  /** `llm`, `retrieval`, `filter`, `logic` or any other string. Default `logic`. */
  type?: string
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'fatal'

export interface LogEntry {
  /** `debug`, `info`, `warn`, `error`, `fatal` (`warning` and `critical` are accepted too). */
  level: LogLevel | 'warning' | 'critical'
  message: string
  service?: string
  /** Strings, numbers and booleans; other values are sent as their JSON text. */
  attributes?: Record<string, unknown>
  /** Defaults to the run the call is made in, if any. */
  runId?: string
}

/** What `decide` returns: `true` keeps the item, a reason string rejects it. */
export type Verdict = true | string

/** Rejection reasons longer than this are cut (Sluice takes map keys up to 200 UTF-16 units). */
export const MAX_REASON_CHARS = 100
/** Distinct reasons kept per step (Sluice takes up to 200); further ones are counted as `other`. */
export const MAX_REASONS = 200

/** What runs and steps need from the client that made them. */
export interface Recorder {
  now(): number
  newId(): string
  emit(type: string, timestamp: number, data: Record<string, unknown>): void
  context: AsyncLocalStorage<ActiveContext>
  debug(message: string): void
}

export interface ActiveContext {
  run: Run
  step?: Step
}

/** One run of a pipeline. Made by `sluice.run()`; `run_start` is sent when it is made. */
export class Run {
  readonly id: string
  readonly name: string
  private finished = false

  /** @internal */
  constructor(
    private readonly recorder: Recorder,
    options: RunOptions,
  ) {
    this.id = options.runId ?? recorder.newId()
    this.name = String(options.name)
    const tags: Record<string, string> = {}
    for (const [k, v] of Object.entries(options.tags ?? {})) if (v !== undefined && v !== null) tags[k] = String(v)
    const startedAt = recorder.now()
    recorder.emit('run_start', startedAt, { run_id: this.id, name: this.name, tags, started_at: isoTime(startedAt) })
  }

  /**
   * Runs `fn` as one step of this run and sends its `step_complete` when `fn` returns or throws
   * (with the error, which is rethrown). Resolves to what `fn` returns.
   */
  async step<T>(options: StepOptions, fn: (step: Step) => T | Promise<T>): Promise<T> {
    const step = new Step(this.recorder, this.id, options)
    let result: T
    try {
      result = await this.recorder.context.run({ run: this, step }, () => fn(step))
    } catch (err) {
      step.finish(err, true)
      throw err
    }
    step.finish()
    return result
  }

  /** A log line attached to this run. */
  log(entry: LogEntry): void {
    emitLog(this.recorder, entry, entry.runId ?? this.id)
  }

  /** @internal Sends `run_complete`: completed, or failed with the error. Once. */
  finish(error?: unknown, failed = error !== undefined): void {
    if (this.finished) return
    this.finished = true
    const completedAt = this.recorder.now()
    const data: Record<string, unknown> = { run_id: this.id, status: failed ? 'failed' : 'completed', completed_at: isoTime(completedAt) }
    if (failed) data.error = errorText(error)
    this.recorder.emit('run_complete', completedAt, data)
  }
}

/** One step of a run. Made by `run.step()`; everything set on it is sent when it ends. */
export class Step {
  readonly id: string
  readonly name: string
  readonly type: string
  private readonly startedAt: number
  private inputs: Record<string, unknown> | undefined
  private outputs: Record<string, unknown> | undefined
  private meta: Record<string, unknown> | undefined
  private why: string | undefined
  private spent: number | undefined
  private counts: { input: number; output: number; reasons: Record<string, number> } | undefined
  private finished = false

  /** @internal */
  constructor(
    private readonly recorder: Recorder,
    readonly runId: string,
    options: StepOptions,
  ) {
    this.id = recorder.newId()
    this.name = String(options.name)
    this.type = options.type === undefined ? 'logic' : String(options.type)
    this.startedAt = recorder.now()
  }

  /** Adds these keys to the step's `inputs` (later calls add to earlier ones). */
  input(values: Record<string, unknown>): this {
    this.inputs = { ...this.inputs, ...asRecord(values) }
    return this
  }

  /** Adds these keys to the step's `outputs`. */
  output(values: Record<string, unknown>): this {
    this.outputs = { ...this.outputs, ...asRecord(values) }
    return this
  }

  /** Adds these keys to the step's `metadata`. */
  metadata(values: Record<string, unknown>): this {
    this.meta = { ...this.meta, ...asRecord(values) }
    return this
  }

  /** Why the step decided what it did (free text). */
  reasoning(text: string): this {
    this.why = truncateText(String(text))
    return this
  }

  /** Adds to the step's cost (e.g. USD). Not a finite number: ignored. */
  cost(amount: number): this {
    if (typeof amount === 'number' && Number.isFinite(amount)) this.spent = (this.spent ?? 0) + amount
    else this.recorder.debug(`step ${this.name}: cost ${String(amount)} ignored (not a finite number)`)
    return this
  }

  /**
   * Keeps the items for which `decide` returns `true` and counts the others by the reason it
   * returns (any other value than `true` or a non-empty string counts as `rejected`). Adds to the
   * step's `input_count`, `output_count` and `rejection_reasons`; returns the kept items in order.
   */
  processCandidates<T>(items: Iterable<T>, decide: (item: T, index: number) => Verdict | unknown): T[] {
    const kept: T[] = []
    const rejected = new Map<string, number>()
    let index = 0
    for (const item of items) {
      const verdict = decide(item, index++)
      if (verdict === true) kept.push(item)
      else {
        const reason = typeof verdict === 'string' && verdict !== '' ? verdict : 'rejected'
        rejected.set(reason, (rejected.get(reason) ?? 0) + 1)
      }
    }
    // Counted only once `decide` has seen every item: a throw from it records nothing.
    const counts = (this.counts ??= { input: 0, output: 0, reasons: {} })
    counts.input += index
    counts.output += kept.length
    for (const [reason, n] of rejected) addReason(counts.reasons, reason, n)
    return kept
  }

  /** @internal Sends `step_complete`, with the error if there is one. Once. */
  finish(error?: unknown, failed = error !== undefined): void {
    if (this.finished) return
    this.finished = true
    const completedAt = this.recorder.now()
    const data: Record<string, unknown> = { step_id: this.id, run_id: this.runId, name: this.name, type: this.type }
    if (this.inputs) data.inputs = this.inputs
    if (this.outputs) data.outputs = this.outputs
    if (this.meta) data.metadata = this.meta
    if (this.why !== undefined) data.reasoning = this.why
    if (this.spent !== undefined) data.cost = this.spent
    data.started_at = isoTime(this.startedAt)
    data.completed_at = isoTime(completedAt)
    if (failed) data.error = errorText(error)
    if (this.counts) {
      data.input_count = this.counts.input
      data.output_count = this.counts.output
      data.rejection_reasons = this.counts.reasons
    }
    this.recorder.emit('step_complete', completedAt, data)
  }
}

function addReason(reasons: Record<string, number>, reason: string, n: number): void {
  let key = truncateText(reason)
  if (key.length > MAX_REASON_CHARS) key = Array.from(key).slice(0, MAX_REASON_CHARS).join('')
  if (!Object.hasOwn(reasons, key) && Object.keys(reasons).length >= MAX_REASONS - 1 && key !== 'other') key = 'other'
  reasons[key] = (reasons[key] ?? 0) + n
}

/**
 * @internal Sends one `log` event. Nothing is copied defensively: the event is serialized before
 * this returns, so later changes to `entry` cannot reach it.
 */
export function emitLog(recorder: Recorder, entry: LogEntry, runId: string | undefined): void {
  const at = recorder.now()
  const data: Record<string, unknown> = { level: String(entry.level), message: truncateText(String(entry.message)) }
  if (entry.service !== undefined && entry.service !== null) data.service = String(entry.service)
  if (entry.attributes) data.attributes = logAttributes(entry.attributes)
  if (runId) data.run_id = runId
  recorder.emit('log', at, data)
}
