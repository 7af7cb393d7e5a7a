import type { FastifySchemaCompiler, FastifySerializerCompiler } from 'fastify'
import { z } from 'zod'
import { apiComponents, type ResponseDoc, type RouteDoc } from './route-schemas/route-doc.ts'

/**
 * Routes carry zod schemas (a `RouteDoc`) as their fastify `schema`; this module turns them into
 * JSON Schema for `/openapi.json` with zod's own `z.toJSONSchema`.
 *
 * Fastify itself does not validate or serialize with them. The handlers parse with the very same
 * zod objects (`parseQuery`, `parseBody`), where each route needs it: after its own checks (a 404
 * for another project's id comes before a 400 for its query), with Sluice's error codes and
 * messages, and without one validation per event on `/ingest`. Replies are `JSON.stringify`ed as
 * before: a schema-driven serializer drops every field the schema does not name, and the tests
 * that hold real responses against the document keep the two in step instead.
 *
 * Why not fastify-type-provider-zod (which supports zod 4 and fastify 5): what it adds over
 * `z.toJSONSchema` is its validator and serializer compilers, the two things Sluice must not use
 * here; its swagger transform alone is this file's job, and this keeps one dependency fewer.
 */
export const validatorCompiler: FastifySchemaCompiler<unknown> = () => () => true
export const serializerCompiler: FastifySerializerCompiler<unknown> = () => (data) => JSON.stringify(data)

const COMPONENTS = '#/components/schemas/'
type JsonSchema = Record<string, unknown>

/**
 * One zod schema as JSON Schema (draft 2020-12, OpenAPI 3.1's dialect). A registered component
 * inside it becomes a `$ref` to `components.schemas`, where `componentSchemas()` puts it.
 * `io: 'input'` for what clients send (defaults are optional, strings before their transforms),
 * `'output'` for what Sluice answers.
 */
export function toJsonSchema(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const { $schema: _s, $defs, ...json } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as JsonSchema
  // Zod extracts the registered components, which the document holds once; anything else
  // (a cycle) would be a $ref to nowhere.
  for (const name of Object.keys(($defs as JsonSchema | undefined) ?? {})) {
    if (!apiComponents.has(name)) throw new Error(`${name} is extracted from a route schema but is not a registered component`)
  }
  return rewriteRefs(json) as JsonSchema
}

let components: Record<string, JsonSchema> | undefined

/** Every registered component, as `components.schemas` of the document (converted once, a copy per app). */
export function componentSchemas(): Record<string, JsonSchema> {
  components ??= Object.fromEntries(
    [...apiComponents].map(([id, { schema, io }]) => {
      // A component on its own comes out as a $ref to itself among the $defs.
      const { $defs } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as { $defs: Record<string, JsonSchema> }
      return [id, rewriteRefs($defs[id]) as JsonSchema]
    }),
  )
  return structuredClone(components)
}

function rewriteRefs(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(rewriteRefs)
  if (value === null || typeof value !== 'object') return value
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => [k, k === '$ref' && typeof v === 'string' ? v.replace(/^#\/\$defs\//, COMPONENTS) : rewriteRefs(v)]),
  )
}

export function isRouteDoc(schema: unknown): schema is RouteDoc {
  return typeof schema === 'object' && schema !== null && 'summary' in schema && 'response' in schema
}

/** `@fastify/swagger`'s `transform`: a route's `RouteDoc` → the JSON Schema form it documents. */
export function openApiRouteSchema(doc: RouteDoc): Record<string, unknown> {
  const { querystring, queryDescriptions, body, response, ...rest } = doc
  return {
    ...rest,
    ...(querystring ? { querystring: describeProperties(toJsonSchema(querystring, 'input'), queryDescriptions ?? {}) } : {}),
    ...(body ? { body: toJsonSchema(body, 'input') } : {}),
    response: Object.fromEntries(Object.entries(response).map(([status, r]) => [status, responseSchema(r)])),
  }
}

function describeProperties(schema: JsonSchema, descriptions: Record<string, string>): JsonSchema {
  const properties = schema.properties as Record<string, JsonSchema>
  for (const [name, description] of Object.entries(descriptions)) {
    // A description of a parameter the route does not take is a document out of date.
    if (!properties[name]) throw new Error(`no query parameter ${name} to describe`)
    properties[name] = { ...properties[name], description }
  }
  return schema
}

function responseSchema(r: ResponseDoc): Record<string, unknown> {
  const head = { description: r.description, ...(r.headers ? { headers: r.headers } : {}) }
  if (!r.body) return { ...head, type: 'null' }
  return { ...head, content: { [r.contentType ?? 'application/json']: { schema: toJsonSchema(r.body, 'output') } } }
}
