import { z } from 'zod'

/**
 * The named schemas of the API: each is one entry of the OpenAPI document's
 * `components.schemas`, and every route schema that uses it refers to it there. Their ids live in
 * zod's global registry with the rest of their metadata (`.meta()`), where `z.toJSONSchema`
 * looks; `io` says whether clients send it (`input`: defaults optional) or Sluice answers it.
 */
export const apiComponents = new Map<string, { schema: z.ZodType; io: 'input' | 'output' }>()

/** Registers `schema` as the component `id` and returns it. */
export function component<T extends z.ZodType>(id: string, schema: T, io: 'input' | 'output' = 'output'): T {
  if (apiComponents.has(id)) throw new Error(`component ${id} is registered twice`)
  z.globalRegistry.add(schema, { ...z.globalRegistry.get(schema), id })
  apiComponents.set(id, { schema, io })
  return schema
}

export interface ResponseDoc {
  description: string
  /** No body (204) when absent. */
  body?: z.ZodType
  /** `application/json` unless given. */
  contentType?: string
  /** Each a JSON Schema with its description (@fastify/swagger makes the header objects). */
  headers?: Record<string, { description: string; type: 'string'; const?: string }>
}

/**
 * A route's fastify `schema`: the zod schemas of its request and responses plus what the
 * document says about it. The same zod objects validate in the handler (`parseQuery`,
 * `parseBody`) and become JSON Schema in `/openapi.json` (see zod-route-schema.ts).
 */
export interface RouteDoc {
  summary: string
  description?: string
  tags: string[]
  security?: Array<Record<string, string[]>>
  querystring?: z.ZodType
  /** What each query parameter means, for the document (the zod schema says what it may be). */
  queryDescriptions?: Record<string, string>
  body?: z.ZodType
  response: Record<number, ResponseDoc>
}

/** `Authorization: Bearer <key>` of one kind (the security schemes of the document). */
export const bearer = (kind: 'admin' | 'ingest' | 'query') => [{ [kind]: [] }]

export const isoTime = z.string().meta({ format: 'date-time', examples: ['2026-11-22T01:02:03.456Z'] })
export const uuid = z.string().meta({ format: 'uuid', examples: ['0193a1b2-7c4d-7e8f-9a0b-1c2d3e4f5a6b'] })
export const int = z.number().int()

export const EventError = component(
  'EventError',
  z.object({ index: int, id: z.string().nullable(), code: z.string(), message: z.string() }).meta({
    description: 'One refused event of a batch: its position in the array sent, its id (null when it had none) and why',
    examples: [{ index: 2, id: null, code: 'SLUICE_ERR_INVALID_EVENT', message: 'data.run_id: Invalid UUID' }],
  }),
)

export const ErrorBody = component(
  'Error',
  z
    .object({
      statusCode: int,
      error: z.string(),
      code: z.string().regex(/^SLUICE_ERR_[A-Z0-9_]+$/),
      message: z.string(),
      errors: z.array(EventError).optional(),
    })
    .meta({
      description: 'Every error: fastify\'s shape with a code listed in docs/errors.md',
      examples: [
        { statusCode: 400, error: 'Bad Request', code: 'SLUICE_ERR_VALIDATION', message: 'limit: Too big: expected number to be <=1000' },
        { statusCode: 401, error: 'Unauthorized', code: 'SLUICE_ERR_UNAUTHORIZED', message: 'Unknown or revoked key' },
      ],
    }),
)

export const errorResponse = (description: string): ResponseDoc => ({ description, body: ErrorBody })

export const AUTH_ERRORS = {
  401: errorResponse('Missing, unknown or revoked key (SLUICE_ERR_UNAUTHORIZED)'),
  403: errorResponse('A key of another kind (SLUICE_ERR_FORBIDDEN)'),
}

export const PAGED = {
  Link: { description: 'The next page: `<...>; rel="next"`; absent on the last page', type: 'string' as const },
}

export const NO_STORE = {
  'Cache-Control': { description: '`no-store`: the body holds a key', type: 'string' as const, const: 'no-store' },
}

/** The query parameters most lists share. */
export const LIST_QUERY = {
  limit: 'Items per page, 1 to 1000 (default 100)',
  cursor: "The next page's cursor, from the previous page's Link header; any other value is 400 SLUICE_ERR_INVALID_CURSOR",
}
export const timeBound = (what: string) => `${what}; ISO-8601 with a zone (or a date, read as UTC) or epoch milliseconds`

/** A page of a list: 200 with the Link header, 400 for a bad parameter or a cursor Sluice did not issue. */
export const pageOf = (item: z.ZodType, description: string): Record<number, ResponseDoc> => ({
  200: { description, headers: PAGED, body: z.array(item) },
  400: errorResponse('A bad parameter (SLUICE_ERR_VALIDATION) or a cursor this API did not issue (SLUICE_ERR_INVALID_CURSOR)'),
})
