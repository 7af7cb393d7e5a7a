/**
 * Sample envelopes of every event type, smallest and largest, for the codec round-trip tests and
 * the schema compatibility checks. Not used at runtime.
 */
import type { EventEnvelope } from '../event-types.ts'

const T0 = 1_767_225_600_000 // 2026-01-01T00:00:00Z
const BIG = 2 ** 40
/** The largest long avsc reads and writes without complaint: 2^53 - 2, one below MAX_SAFE_INTEGER. */
export const AVSC_MAX_LONG = Number.MAX_SAFE_INTEGER - 1

export const MINIMAL_SAMPLES: readonly EventEnvelope[] = [
  {
    id: 'evt-min-run-start',
    project_id: 'p',
    type: 'run_start',
    timestamp: 0,
    received_at: 0,
    request_id: null,
    payload: { run_id: 'r', name: '', tags: {}, started_at: null },
  },
  {
    id: 'evt-min-step',
    project_id: 'p',
    type: 'step_complete',
    timestamp: T0,
    received_at: T0,
    request_id: null,
    payload: {
      step_id: 's',
      run_id: 'r',
      name: 'n',
      type: 't',
      inputs: null,
      outputs: null,
      metadata: null,
      reasoning: null,
      cost: null,
      started_at: null,
      completed_at: null,
      error: null,
      input_count: null,
      output_count: null,
      rejection_reasons: null,
    },
  },
  {
    id: 'evt-min-run-complete',
    project_id: 'p',
    type: 'run_complete',
    timestamp: T0,
    received_at: T0,
    request_id: null,
    payload: { run_id: 'r', status: 'completed', completed_at: null, error: null, total_cost: null },
  },
  {
    id: 'evt-min-log',
    project_id: 'p',
    type: 'log',
    timestamp: T0,
    received_at: T0,
    request_id: null,
    payload: { level: 'debug', message: '', service: null, attributes: {}, run_id: null },
  },
]

export const MAXIMAL_SAMPLES: readonly EventEnvelope[] = [
  {
    id: '0b1c9a4e-8d1f-4c52-9a55-2f0a3f7d6e10',
    project_id: 'proj_ünïcødé_日本語',
    type: 'run_start',
    timestamp: T0 + 1,
    received_at: T0 + 25,
    request_id: 'req-1',
    payload: {
      run_id: 'run-42',
      name: 'candidate ranking 🚀',
      tags: { env: 'prod', team: 'search', 'emoji 🔥': 'ok', '': 'empty key', 'line\nbreak': 'tab\there' },
      started_at: T0,
    },
  },
  {
    id: '9f5e3a71-1c2b-4d8e-b0f6-7a6c5d4e3f21',
    project_id: 'proj_1',
    type: 'step_complete',
    timestamp: T0 + 2,
    received_at: T0 + 30,
    request_id: 'req-2',
    payload: {
      step_id: 'step-7',
      run_id: 'run-42',
      name: 'filter by price',
      type: 'filter',
      inputs: JSON.stringify({ items: [{ id: 1, price: 9.99 }], query: 'café ☕' }),
      outputs: JSON.stringify({ items: [] }),
      metadata: JSON.stringify({ model: 'x', nested: { a: [1, 2, 3] } }),
      reasoning: 'Dropped items above €100 — «too expensive».',
      cost: 0.000123,
      started_at: T0 - 500,
      completed_at: T0,
      error: null,
      input_count: BIG,
      output_count: AVSC_MAX_LONG,
      rejection_reasons: { too_expensive: BIG, out_of_stock: 0, 'ünïcødé': 3 },
    },
  },
  {
    id: 'c2d4f6a8-0b1d-4e3f-8a5c-7e9f1a2b3c4d',
    project_id: 'proj_1',
    type: 'run_complete',
    timestamp: T0 + 3,
    received_at: T0 + 40,
    request_id: 'req-3',
    payload: { run_id: 'run-42', status: 'failed', completed_at: T0 + 3, error: 'boom 💥', total_cost: 12.5 },
  },
  {
    id: 'd3e5f7a9-1c2e-4f40-9b6d-8f0a2b3c4d5e',
    project_id: 'proj_1',
    type: 'log',
    timestamp: T0 + 4,
    received_at: T0 + 50,
    request_id: 'req-4',
    payload: {
      level: 'fatal',
      message: 'worker crashed: ✗ 不好',
      service: 'ranker',
      attributes: {
        attempt: 3,
        big: BIG,
        negative: -42,
        ratio: 0.25,
        tiny: 1e-300,
        ok: false,
        flag: true,
        host: 'node-1',
        empty: '',
      },
      run_id: 'run-42',
    },
  },
]

export const SAMPLE_ENVELOPES: readonly EventEnvelope[] = [...MINIMAL_SAMPLES, ...MAXIMAL_SAMPLES]
