import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { createMetrics } from './metrics.ts'

describe('metrics', () => {
  it("exports Node's default metrics under their usual names, which Node.js dashboards look for", async () => {
    const text = await createMetrics().registry.metrics()
    for (const name of ['process_cpu_user_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_seconds', 'nodejs_heap_size_used_bytes']) {
      expect(text).toMatch(new RegExp(`^# TYPE ${name} `, 'm'))
    }
    expect(text).not.toMatch(/sluice_process_/)
  })

  it('names every Sluice metric sluice_* (or the ecosystem names the contract gives)', async () => {
    const text = await createMetrics({ defaultMetrics: false }).registry.metrics()
    const names = [...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => ({ name: m[1]!, type: m[2]! }))
    expect(names.length).toBeGreaterThan(10)
    for (const { name, type } of names) {
      expect(name).toMatch(/^(sluice_|http_request_duration_seconds$|kafka_consumergroup_(lag|current_offset)$)/)
      if (type === 'counter') expect(name).toMatch(/_total$/)
      else expect(name).not.toMatch(/_total$/)
    }
  })

  it('lists every Sluice metric in docs/metrics.md', async () => {
    const docs = readFileSync(new URL('../docs/metrics.md', import.meta.url), 'utf8')
    const text = await createMetrics({ defaultMetrics: false }).registry.metrics()
    const names = [...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!)
    expect(names.filter((name) => !docs.includes(`| \`${name}\` |`))).toEqual([])
  })
})
