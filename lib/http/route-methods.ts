/**
 * The methods each path serves, from the routes an app registers, for 405 answers: fastify 5
 * answers a known path with an unknown method 404, as if the path did not exist.
 *
 * @example
 *   const methods = createRouteMethods(); app.addHook('onRoute', (r) => methods.add(r.method, r.url))
 *   methods.allowed('/runs/abc') // → ['GET', 'HEAD']
 */
export function createRouteMethods() {
  const routes: Array<{ pattern: RegExp; methods: Set<string> }> = []
  const byUrl = new Map<string, Set<string>>()
  return {
    add(method: string | readonly string[], url: string): void {
      // A catch-all (e.g. a CORS preflight for every path) says nothing about which paths exist.
      if (url === '*' || url === '/*') return
      let methods = byUrl.get(url)
      if (!methods) {
        methods = new Set()
        byUrl.set(url, methods)
        routes.push({ pattern: urlPattern(url), methods })
      }
      for (const m of [method].flat()) methods.add(m.toUpperCase())
    },
    /** Every method some route serves on `path` (no query string), sorted; empty for an unknown path. */
    allowed(path: string): string[] {
      const found = new Set<string>()
      for (const r of routes) if (r.pattern.test(path)) for (const m of r.methods) found.add(m)
      return [...found].sort()
    },
  }
}

function urlPattern(url: string): RegExp {
  const source = url
    .split('/')
    .map((part) => (part.startsWith(':') ? '[^/]+' : part === '*' ? '.*' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('/')
  return new RegExp(`^${source}$`)
}
