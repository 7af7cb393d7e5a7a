import { readFileSync } from 'node:fs'
import { STATUS_CODES } from 'node:http'
import { describe, expect, it } from 'vitest'
import * as errors from './errors.ts'
import { createHttpApp } from './http/create-http-app.ts'
import { createLogger } from './logger.ts'
import { createMetrics } from './metrics.ts'

// docs/errors.md and lib/errors.ts describe the same codes; this test fails as soon as they drift.
const DOC_PATH = new URL('../docs/errors.md', import.meta.url)

interface DocRow {
  code: string
  status: number
  retry: boolean
}

function documentedRows(): DocRow[] {
  const rows: DocRow[] = []
  for (const line of readFileSync(DOC_PATH, 'utf8').split('\n')) {
    const m = /^\| `([A-Z0-9_]+)` \| (\d{3}) \| .+ \| (yes|no) \|$/.exec(line)
    if (m) rows.push({ code: m[1]!, status: Number(m[2]), retry: m[3] === 'yes' })
  }
  return rows
}

interface DefinedCode {
  exportName: string
  code: string
  status: number
}

/** Every @fastify/error constructor exported by lib/errors.ts, instantiated to read its code and status. */
function definedRequestCodes(): DefinedCode[] {
  const found: DefinedCode[] = []
  for (const [exportName, value] of Object.entries(errors)) {
    if (typeof value !== 'function') continue
    const instance = new (value as new (...args: unknown[]) => { code?: unknown; statusCode?: unknown })('x', 1, 2)
    if (!(instance instanceof Error) || typeof instance.code !== 'string') continue
    found.push({ exportName, code: instance.code, status: Number(instance.statusCode) })
  }
  return found
}

// Per-event codes travel in the `errors` array of a 207 (or of a SLUICE_ERR_NO_VALID_EVENTS 400).
const EVENT_CODE_STATUS = 207

describe('docs/errors.md', () => {
  const rows = documentedRows()
  const requestCodes = definedRequestCodes()
  const eventCodes = Object.values(errors.EVENT_ERROR_CODES)

  it('finds the codes on both sides', () => {
    expect(requestCodes.length).toBeGreaterThanOrEqual(20)
    expect(eventCodes.length).toBe(3)
    expect(rows.length).toBeGreaterThanOrEqual(requestCodes.length + eventCodes.length)
  })

  it('lists every error constructor of lib/errors.ts once, with its status', () => {
    for (const { exportName, code, status } of requestCodes) {
      const documented = rows.filter((r) => r.code === code)
      expect(documented, `${exportName} (${code}) in docs/errors.md`).toHaveLength(1)
      expect(documented[0]!.status, `status of ${code}`).toBe(status)
    }
  })

  it('lists every per-event code once, as part of a 207', () => {
    for (const code of eventCodes) {
      const documented = rows.filter((r) => r.code === code)
      expect(documented, `${code} in docs/errors.md`).toHaveLength(1)
      expect(documented[0]!.status, `status of ${code}`).toBe(EVENT_CODE_STATUS)
    }
  })

  it('lists no code that lib/errors.ts does not define', () => {
    const defined = new Set([...requestCodes.map((c) => c.code), ...eventCodes])
    const documentedAnywhere = readFileSync(DOC_PATH, 'utf8').match(/SLUICE_ERR_[A-Z0-9_]+/g) ?? []
    expect([...new Set(documentedAnywhere)].filter((c) => !defined.has(c))).toEqual([])
    expect(rows.map((r) => r.code).filter((c) => !defined.has(c))).toEqual([])
  })

  it('says "retry: yes" exactly for RETRYABLE_CODES', () => {
    for (const row of rows) expect(row.retry, `retry column of ${row.code}`).toBe(errors.RETRYABLE_CODES.has(row.code))
    for (const code of errors.RETRYABLE_CODES) expect(rows.some((r) => r.code === code), `${code} documented`).toBe(true)
  })
})

describe('lib/errors.ts', () => {
  it('gives every error a unique SLUICE_ERR_ code and an HTTP error status', () => {
    const codes = definedRequestCodes()
    expect(new Set(codes.map((c) => c.code)).size).toBe(codes.length)
    for (const { code, status } of codes) {
      expect(code).toMatch(/^SLUICE_ERR_[A-Z_]+$/)
      expect(status).toBeGreaterThanOrEqual(400)
      expect(status).toBeLessThan(600)
    }
  })

  it('formats the limits into the messages', () => {
    expect(new errors.PayloadTooLargeError(65536).message).toBe('Body exceeds 65536 bytes as sent')
    expect(new errors.BatchTooLargeError(11, 10).message).toBe('Batch has 11 events; the limit is 10')
    expect(new errors.DecompressedTooLargeError(1024).message).toBe('Body exceeds 1024 bytes once decompressed')
  })

  // Regression: the error handler knew the reason phrases of a fixed list of statuses, so a 409
  // (SLUICE_ERR_CONFLICT) went out as {"error": "Error"}.
  it('reaches the client in the contract shape with the status and its reason phrase', async () => {
    const app = createHttpApp({ logger: createLogger({ level: 'silent' }), metrics: createMetrics({ defaultMetrics: false }), bodyLimit: 1024 })
    const codes = definedRequestCodes()
    app.get<{ Params: { name: string } }>('/throw/:name', async (request) => {
      throw new (errors[request.params.name as keyof typeof errors] as new (...args: unknown[]) => Error)('x', 1, 2)
    })
    try {
      for (const { exportName, code, status } of codes) {
        const res = await app.inject({ method: 'GET', url: `/throw/${exportName}` })
        expect(res.statusCode, code).toBe(status)
        expect(res.json(), code).toEqual({ statusCode: status, error: STATUS_CODES[status], code, message: expect.any(String) })
      }
    } finally {
      await app.close()
    }
  })
})
