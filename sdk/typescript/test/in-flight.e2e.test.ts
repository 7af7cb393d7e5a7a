import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestSluice, type TestProject, type TestSluice } from '../../../test/helpers/test-sluice.ts'
import { Sluice } from '../src/index.ts'

// Requests in flight at once, against a real Sluice (ingest role). Between the SDK and Sluice sits
// a pass-through proxy that holds each request until `hold` of them are open at the same time (or
// a second passed), so "two at once" is seen, not inferred from timing.

interface Gate {
  url: string
  maxOpen: number
  close(): Promise<void>
}

async function startGate(target: string, hold: number): Promise<Gate> {
  let open = 0
  let maxOpen = 0
  let waiting: Array<() => void> = []
  const release = () => {
    for (const go of waiting.splice(0)) go()
  }
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      open++
      maxOpen = Math.max(maxOpen, open)
      const forward = () => {
        const headers: Record<string, string> = {}
        for (const name of ['authorization', 'content-type', 'content-encoding']) if (req.headers[name]) headers[name] = String(req.headers[name])
        void fetch(`${target}${req.url}`, { method: req.method, headers, body: new Uint8Array(Buffer.concat(chunks)) })
          .then(async (answer) => {
            const body = Buffer.from(await answer.arrayBuffer())
            res.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'application/json' }).end(body)
          })
          .catch(() => res.writeHead(502).end())
          .finally(() => open--)
      }
      waiting.push(forward)
      if (open >= hold) release()
      else setTimeout(release, 1000).unref()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get maxOpen() {
      return maxOpen
    },
    close: () => {
      waiting = []
      server.closeAllConnections()
      return new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

describe('the TypeScript SDK with requests in flight at once, against a real Sluice', () => {
  let server: TestSluice
  let project: TestProject

  beforeAll(async () => {
    server = await startTestSluice({ roles: ['ingest'] })
    project = await server.createProject()
  })

  afterAll(async () => {
    await server?.close()
  })

  it('maxInFlight 2: two batches are open at the proxy at the same time, and Sluice accepts every event', async () => {
    const gate = await startGate(server.url, 2)
    const client = new Sluice({ endpoint: gate.url, apiKey: project.ingest_key, maxInFlight: 2, maxBatchEvents: 50, flushAt: 50, flushOnExit: false })
    try {
      for (let i = 0; i < 400; i++) client.log({ level: 'info', message: `in flight ${i}` })
      await client.flush()
      expect(gate.maxOpen).toBe(2)
      expect(client.stats()).toMatchObject({ sent: 400, requests: 8, retries: 0, queued: 0, inFlight: 0 })
    } finally {
      await client.shutdown()
      await gate.close()
    }
  })

  it('maxInFlight 1: never more than one request open', async () => {
    const gate = await startGate(server.url, 2)
    const client = new Sluice({ endpoint: gate.url, apiKey: project.ingest_key, maxInFlight: 1, maxBatchEvents: 50, flushAt: 50, flushOnExit: false })
    try {
      for (let i = 0; i < 150; i++) client.log({ level: 'info', message: `one at a time ${i}` })
      await client.flush()
      expect(gate.maxOpen).toBe(1)
      expect(client.stats()).toMatchObject({ sent: 150, requests: 3 })
    } finally {
      await client.shutdown()
      await gate.close()
    }
  })
})
