/**
 * @sluice/sdk: record decision-pipeline runs, steps, candidate funnels and logs into Sluice.
 *
 * @example
 *   import { Sluice } from '@sluice/sdk'
 *   const sluice = new Sluice({ endpoint: 'http://localhost:8000', apiKey: 'sk_ingest_...' })
 */
export { Sluice } from './sluice.ts'
export { DEFAULTS, type SluiceOptions } from './options.ts'
export { Run, Step, MAX_REASONS, MAX_REASON_CHARS, type LogEntry, type LogLevel, type RunOptions, type StepOptions, type Verdict } from './tracing.ts'
export { DROP_REASONS, type DropReason, type DropReport, type DroppedEvent, type OutgoingEvent, type SluiceStats } from './transport.ts'
export { SDK_VERSION } from './version.ts'
