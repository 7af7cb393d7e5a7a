import { z } from 'zod'
import { AUTH_ERRORS, bearer, component, errorResponse, int, isoTime, LIST_QUERY, pageOf, timeBound, type RouteDoc } from './route-doc.ts'

const RUN_ID = '4f6c1d2e-8a9b-4c3d-9e8f-0a1b2c3d4e5f'
const counts = z.record(z.string(), int)

export const Run = component(
  'Run',
  z
    .object({
      id: z.string(),
      name: z.string(),
      status: z.enum(['RUNNING', 'COMPLETED', 'FAILED']),
      total_cost: z.number().nullable().meta({ description: "run_complete's total_cost when given, else the sum of the step costs" }),
      tags: z.record(z.string(), z.string()),
      started_at: isoTime,
      completed_at: isoTime.nullable(),
      error: z.string().nullable(),
      created_at: isoTime,
      step_count: int,
    })
    .meta({
      examples: [
        {
          id: RUN_ID,
          name: 'competitor-search',
          status: 'COMPLETED',
          total_cost: 0.002,
          tags: { env: 'prod' },
          started_at: '2026-11-22T01:02:03.456Z',
          completed_at: '2026-11-22T01:02:05.000Z',
          error: null,
          created_at: '2026-11-22T01:02:03.500Z',
          step_count: 1,
        },
      ],
    }),
)

export const Step = component(
  'Step',
  z
    .object({
      id: z.string().meta({ description: 'The step_id' }),
      step_id: z.string(),
      run_id: z.string(),
      name: z.string(),
      type: z.string(),
      inputs: z.unknown(),
      outputs: z.unknown(),
      metadata: z.unknown(),
      reasoning: z.string().nullable(),
      cost: z.number().nullable(),
      started_at: isoTime.nullable(),
      completed_at: isoTime.nullable(),
      error: z.string().nullable(),
      input_count: int.nullable(),
      output_count: int.nullable(),
      rejection_reasons: counts.nullable(),
      created_at: isoTime,
    })
    .meta({ description: 'The step_complete data, plus id (= step_id) and created_at' }),
)

const FunnelStep = z.object({
  step_id: z.string(),
  name: z.string(),
  type: z.string(),
  input_count: int.nullable(),
  output_count: int.nullable(),
  dropped: int.nullable().meta({ description: 'max(input_count - output_count, 0); null without counts' }),
  drop_rate: z.number().nullable().meta({ description: 'dropped / input_count (0 when input_count is 0); null without counts' }),
  rejection_reasons: counts,
  duration_ms: z.number().nullable(),
  cost: z.number().nullable(),
})

export const Analysis = component(
  'Analysis',
  z.object({
    run: Run,
    funnel: z.array(FunnelStep),
    summary: z.object({
      initial_count: int.nullable().meta({ description: "The first counted step's input_count" }),
      final_count: int.nullable().meta({ description: "The last counted step's output_count" }),
      overall_drop_rate: z.number().nullable().meta({ description: '1 - final_count / initial_count' }),
      total_cost: z.number().nullable(),
      total_duration_ms: z.number().nullable(),
    }),
    final_outputs: z.unknown().meta({ description: 'The outputs of the last step' }),
  }),
)

export const PipelineStep = component(
  'PipelineStep',
  z.object({
    name: z.string(),
    runs: int,
    input_count: int.nullable(),
    output_count: int.nullable(),
    dropped: int.nullable(),
    drop_rate: z.number().nullable(),
    rejection_reasons: counts,
    p50_duration_ms: z.number().nullable().meta({ description: 'Within 1 %, never outside the observed minimum and maximum' }),
    p95_duration_ms: z.number().nullable().meta({ description: 'Within 1 %, never outside the observed minimum and maximum' }),
    avg_cost: z.number().nullable(),
  }),
)

const NO_RUN = errorResponse('No such run in this project (SLUICE_ERR_NOT_FOUND)')

export const runsDocs = {
  list: {
    summary: 'Runs, newest started_at first',
    description: '`tag` may repeat (all must hold); `from`/`to` bound started_at as [from, to); `status` is matched in any case.',
    tags: ['runs'],
    security: bearer('query'),
    queryDescriptions: {
      name: 'Only runs of this name',
      status: 'running, completed or failed, in any case',
      tag: '`key:value`; may repeat (up to 20), and every one must hold',
      from: timeBound('started_at ≥ from'),
      to: timeBound('started_at < to'),
      ...LIST_QUERY,
    },
    response: { ...pageOf(Run, 'A page of runs'), ...AUTH_ERRORS },
  },
  get: {
    summary: 'One run',
    tags: ['runs'],
    security: bearer('query'),
    response: { 200: { description: 'The run', body: Run }, ...AUTH_ERRORS, 404: NO_RUN },
  },
  steps: {
    summary: 'The steps of a run, by started_at then arrival',
    tags: ['runs'],
    security: bearer('query'),
    queryDescriptions: LIST_QUERY,
    response: { ...pageOf(Step, 'A page of steps'), ...AUTH_ERRORS, 404: NO_RUN },
  },
  analyze: {
    summary: "The run's candidate funnel and its summary",
    tags: ['runs'],
    security: bearer('query'),
    response: { 200: { description: 'The analysis', body: Analysis }, ...AUTH_ERRORS, 404: NO_RUN },
  },
  pipelineFunnel: {
    summary: 'The funnel over every run of a pipeline started in [from, to), one entry per step name',
    tags: ['runs'],
    security: bearer('query'),
    queryDescriptions: { from: timeBound('Runs started at or after'), to: timeBound('Runs started before') },
    response: {
      200: { description: 'Steps in the order they usually run; sums over the runs', body: z.array(PipelineStep) },
      400: errorResponse('A bad parameter (SLUICE_ERR_VALIDATION)'),
      ...AUTH_ERRORS,
    },
  },
} satisfies Record<string, RouteDoc>
