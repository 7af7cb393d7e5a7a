import { createHash } from 'node:crypto'
import type { FastifyPluginAsync } from 'fastify'
import { openApiDocument } from './openapi.ts'

const escape = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!)

/** `/openapi.json` and `/docs`: the API description, and a page listing it without any CDN. */
export const docsRoutes: FastifyPluginAsync = async (app) => {
  app.get('/openapi.json', async () => openApiDocument)

  const rows = Object.entries(openApiDocument.paths)
    .flatMap(([path, ops]) =>
      Object.entries(ops).map(([method, op]) => {
        const o = op as { summary: string; security?: ReadonlyArray<Record<string, unknown>> }
        const auth = o.security ? Object.keys(o.security[0]!)[0] : '—'
        return `<tr><td><code>${method.toUpperCase()}</code></td><td><code>${escape(path)}</code></td><td>${auth}</td><td>${escape(o.summary)}</td></tr>`
      }),
    )
    .join('\n')
  const style = 'body{font:14px system-ui;margin:2em}td{padding:4px 12px;border-bottom:1px solid #ddd}'
  // The page has no script at all; its one inline style is allowed by hash, not by 'unsafe-inline'.
  const csp = `default-src 'none'; style-src 'sha256-${createHash('sha256').update(style).digest('base64')}'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'`
  const page = `<!doctype html><html><head><meta charset="utf-8"><title>Sluice API</title>
<style>${style}</style></head>
<body><h1>Sluice API</h1><p>Machine-readable: <a href="/openapi.json">/openapi.json</a> (OpenAPI 3.1).</p>
<table><tr><th>method</th><th>path</th><th>key</th><th>what</th></tr>
${rows}
</table></body></html>`
  app.get('/docs', async (_request, reply) => reply.type('text/html; charset=utf-8').header('content-security-policy', csp).send(page))
}
