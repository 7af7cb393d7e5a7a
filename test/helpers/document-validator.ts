/**
 * Validates values against the schemas of Sluice's OpenAPI document with ajv (JSON Schema
 * 2020-12, OpenAPI 3.1's dialect), `$ref`s to `#/components/schemas/...` included.
 */
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js'
import addFormats from 'ajv-formats'

export interface OpenApiDocument {
  openapi: string
  components: { schemas: Record<string, unknown> }
  paths: Record<string, Record<string, Operation>>
}

export interface Operation {
  summary?: string
  parameters?: Array<{ name: string; in: string; required?: boolean; description?: string; schema: unknown }>
  requestBody?: { content: Record<string, Media> }
  responses: Record<string, { description: string; headers?: Record<string, unknown>; content?: Record<string, Media> }>
}

export interface Media {
  schema: unknown
  example?: unknown
  examples?: Record<string, { value: unknown }>
}

export function createDocumentValidator(doc: OpenApiDocument) {
  // strict: false: OpenAPI's own keywords (example, discriminator) are not JSON Schema's.
  const ajv = new Ajv2020({ strict: false, allErrors: true })
  addFormats.default(ajv)
  const cache = new Map<unknown, ValidateFunction>()
  return {
    /** The errors of `value` against `schema` (a schema object of `doc`), or [] when it is valid. */
    errors(schema: unknown, value: unknown): string[] {
      let validate = cache.get(schema)
      if (!validate) {
        // The components ride along under the root, so that `#/components/schemas/X` resolves.
        validate = ajv.compile({ $defs: { target: schema }, components: doc.components, $ref: '#/$defs/target' })
        cache.set(schema, validate)
      }
      return validate(value) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''} ${JSON.stringify(e.params)}`)
    },
  }
}

/** The operation of `doc` that serves `method url` (a concrete path such as `/runs/abc`). */
export function operationFor(doc: OpenApiDocument, method: string, url: string): { path: string; operation: Operation } {
  const path = url.split('?')[0]!
  for (const [template, ops] of Object.entries(doc.paths)) {
    const pattern = new RegExp(`^${template.replace(/\{\w+\}/g, '[^/]+')}$`)
    const operation = ops[method.toLowerCase()]
    if (operation && pattern.test(path)) return { path: template, operation }
  }
  throw new Error(`no operation for ${method} ${url}`)
}

/**
 * The problems of one real response against what `doc` documents for its method, path and status
 * ([] when it fits): the status must be documented, and the body must validate against its schema.
 */
export function undocumented(
  doc: OpenApiDocument,
  validator: ReturnType<typeof createDocumentValidator>,
  res: { method: string; url: string; status: number; contentType: string | undefined; body: string },
): string[] {
  const { path, operation } = operationFor(doc, res.method, res.url)
  const what = `${res.method} ${path} ${res.status}`
  const documented = operation.responses[String(res.status)]
  if (!documented) return [`${what} is not documented`]
  if (res.status === 204) return documented.content ? [`${what} documents a body`] : []
  const type = (res.contentType ?? '').split(';')[0]!
  const media = documented.content?.[type]
  if (!media) return [`${what} does not document ${type}`]
  return validator.errors(media.schema, type === 'application/json' ? JSON.parse(res.body) : res.body).map((e) => `${what}: ${e}`)
}
