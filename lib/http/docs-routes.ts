import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import fp from 'fastify-plugin'
import { opsDocs } from './route-schemas/index.ts'
import { componentSchemas, isRouteDoc, openApiRouteSchema } from './zod-route-schema.ts'

/**
 * Swagger UI's page and assets: scripts and styles from this server only, nothing inline (its
 * csp.json lists no hashes), and the document fetched from the same origin.
 */
export const DOCS_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

/**
 * `/openapi.json`, made by `@fastify/swagger` from every route's `schema` (a `RouteDoc` of zod
 * schemas, see route-schemas/), and `/docs`, Swagger UI on it. Registered before any route, so
 * that its onRoute hook sees them all.
 */
export const docsRoutes = fp(async (app) => {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Sluice',
        version: '1.0.0',
        description: 'Ingestion and stream analytics for decision pipelines. Every error carries a `code` listed in docs/errors.md; docs/api.md is the reference in prose.',
      },
      components: {
        securitySchemes: {
          admin: { type: 'http', scheme: 'bearer', description: 'SLUICE_ADMIN_TOKEN' },
          ingest: { type: 'http', scheme: 'bearer', description: "A project's ingest key (write-only)" },
          query: { type: 'http', scheme: 'bearer', description: "A project's query key" },
        },
        schemas: componentSchemas(),
      },
    },
    transform: ({ schema, url }) => {
      // Swagger UI's routes are hidden; its page is a route of the API like any other. (Swagger
      // sees the page as /docs/ only, the second of the two paths fastify gives a prefix's root.)
      if (url === '/docs/') return { schema: openApiRouteSchema(opsDocs.docs) as never, url: '/docs' }
      return { schema: (isRouteDoc(schema) ? openApiRouteSchema(schema) : schema) as never, url }
    },
  })
  await app.register(swaggerUi, { routePrefix: '/docs', staticCSP: DOCS_CSP, theme: { title: 'Sluice API' } })
  app.get('/openapi.json', { schema: opsDocs.openapi }, async () => app.swagger())
})
