/**
 * Issue 10: the alerts and the dashboard of deploy/ name metrics and labels Sluice really exports.
 * A real Prometheus scrapes a real Sluice (all roles) that has seen a little of everything — ingest,
 * a 404, processing, a dead letter, webhook deliveries with retries — and then:
 *
 * - promtool accepts deploy/prometheus/alerts.yml and prometheus.yml, and finds nothing wrong with
 *   /metrics except the three gauges prom-client names *_total (kept: see docs/metrics.md);
 * - every dashboard panel expression returns at least one series;
 * - every alert expression evaluates. An alert is a threshold on a signal, so on a healthy Sluice
 *   it rightly returns nothing; what can still be checked is what it is made of: every selector in
 *   it (found by test/helpers/promql-selectors.ts) is queried on its own, by metric name, and must
 *   return series that carry each label its matchers and its by/on clauses name. Panels get the
 *   same check. So a misspelt metric (`sluice_dead_letters_total`) or label (`result` for
 *   `outcome`) fails here, even behind `or vector(0)`.
 */
import { execFile } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { createKafka } from '../lib/kafka/kafka-client.ts'
import { createLogger } from '../lib/logger.ts'
import { promqlSelectors } from './helpers/promql-selectors.ts'
import { ensurePrometheus, PROMETHEUS_JOB, startPrometheus, until, type PromSeries, type RunningPrometheus } from './helpers/start-prometheus.ts'
import { startTestSluice, type TestSluice } from './helpers/test-sluice.ts'

const ALERTS_FILE = 'deploy/prometheus/alerts.yml'
const DASHBOARD_FILE = 'deploy/grafana/sluice.json'
/** prom-client's gauges named *_total, kept under the names Node.js dashboards use. */
const PROMTOOL_EXCEPTIONS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']

const run = promisify(execFile)

interface Panel {
  title: string
  targets?: Array<{ expr: string }>
  panels?: Panel[]
}

const alerts: Array<{ alert: string; expr: string }> = (parse(readFileSync(ALERTS_FILE, 'utf8')) as { groups: Array<{ rules: Array<{ alert: string; expr: string }> }> }).groups.flatMap(
  (g) => g.rules,
)
const dashboard = JSON.parse(readFileSync(DASHBOARD_FILE, 'utf8')) as { panels: Panel[] }
const panelTargets = dashboard.panels
  .flatMap((p) => [p, ...(p.panels ?? [])])
  .flatMap((p) => (p.targets ?? []).map((t) => ({ title: p.title, expr: grafanaToPromql(t.expr) })))

/** What Grafana substitutes before it sends a panel's query: the rate window and the job variable. */
function grafanaToPromql(expr: string): string {
  return expr.replaceAll('$__rate_interval', '10s').replaceAll('$job', '.+')
}

describe('deploy/prometheus and deploy/grafana against a real Prometheus', () => {
  let sluice: TestSluice
  let prom: RunningPrometheus
  let receiver: Server
  const metricLabels = new Map<string, Set<string>>()

  beforeAll(async () => {
    await ensurePrometheus()
    receiver = await startReceiver()
    sluice = await startTestSluice()
    await makeTraffic(sluice, `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`)
    prom = await startPrometheus({ target: new URL(sluice.url).host, ruleFiles: [ALERTS_FILE] })
    // Every series the expressions need exists, and has at least two samples for rate().
    const needed = ['sluice_dead_letter_total', 'sluice_webhook_deliveries_total', 'sluice_processor_messages_total', 'kafka_consumergroup_current_offset']
    await until(
      async () => (await Promise.all(needed.map((m) => prom.query(`count_over_time(${m}[10s]) >= 2`)))).every((r) => r.length > 0),
      20_000,
      () => `Prometheus did not see ${needed.join(', ')} twice`,
    )
    // The first run on a fresh machine may install the prometheus package.
  }, 600_000)

  afterAll(async () => {
    await prom?.close()
    await sluice?.close()
    await new Promise((r) => receiver?.close(r))
  })

  it('promtool accepts the rules and the config, and /metrics but for the documented exceptions', async () => {
    expect((await run('promtool', ['check', 'rules', ALERTS_FILE])).stdout).toContain(`SUCCESS: ${alerts.length} rules found`)
    await run('promtool', ['check', 'config', 'deploy/prometheus/prometheus.yml'])
    await run('promtool', ['check', 'config', prom.configFile])

    const metricsText = (await sluice.get<string>('/metrics')).body
    const problems = await new Promise<string>((resolve) => {
      const child = execFile('promtool', ['check', 'metrics'], (_err, stdout, stderr) => resolve(stdout + stderr))
      child.stdin!.end(metricsText)
    })
    const named = problems.split('\n').filter(Boolean).map((line) => line.split(' ')[0])
    expect(named.sort()).toEqual(PROMTOOL_EXCEPTIONS)
  })

  it('loads every alert rule, and evaluates each without error', async () => {
    type Rules = { groups: Array<{ rules: Array<{ name: string; health: string; lastError?: string }> }> }
    const rules = async () => (await prom.api<Rules>('/api/v1/rules')).groups.flatMap((g) => g.rules)
    expect((await rules()).map((r) => r.name).sort()).toEqual(alerts.map((a) => a.alert).sort())
    await until(async () => (await rules()).every((r) => r.health === 'ok'), 5_000, () => 'an alert rule is not healthy')
  })

  it.each(panelTargets)('dashboard panel "$title" returns series: $expr', async ({ expr }) => {
    expect((await prom.query(expr)).length).toBeGreaterThan(0)
    await expectSelectorsExist(expr)
  })

  it.each(alerts)('alert $alert evaluates and every selector in it exists', async ({ expr }) => {
    await prom.query(expr)
    await expectSelectorsExist(expr)
  })

  async function expectSelectorsExist(expr: string): Promise<void> {
    const { selectors, grouping } = promqlSelectors(expr)
    expect(selectors.length).toBeGreaterThan(0)
    const labelsOfExpr = new Set<string>()
    for (const { name, labels } of selectors) {
      const have = await labelsOf(name)
      expect(have.size, `metric ${name} has series`).toBeGreaterThan(0)
      for (const l of labels) expect(have.has(l), `${name} has label ${l}`).toBe(true)
      for (const l of have) labelsOfExpr.add(l)
    }
    for (const l of grouping) expect(labelsOfExpr.has(l), `a metric of ${expr} has label ${l}`).toBe(true)
  }

  async function labelsOf(name: string): Promise<Set<string>> {
    let labels = metricLabels.get(name)
    if (!labels) {
      const series: PromSeries[] = await prom.query(`${name}{job="${PROMETHEUS_JOB}"}`)
      labels = new Set(series.flatMap((s) => Object.keys(s.metric)))
      metricLabels.set(name, labels)
    }
    return labels
  }
})

/** A webhook receiver that answers 503 to each delivery's first two attempts, then 200. */
async function startReceiver(): Promise<Server> {
  const attempts = new Map<string, number>()
  const server = createServer((req, res) => {
    req.resume()
    req.on('end', () => {
      const id = String(req.headers['x-sluice-delivery'])
      const n = (attempts.get(id) ?? 0) + 1
      attempts.set(id, n)
      res.writeHead(n <= 2 ? 503 : 200, { 'retry-after': '0' }).end()
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return server
}

/**
 * A little of everything, so that every labelled series exists: a run and error logs through
 * /ingest, a rule that opens complaints and calls a webhook, a 404, and one message no processor
 * can decode (dead-lettered by each).
 */
async function makeTraffic(sluice: TestSluice, webhookUrl: string): Promise<void> {
  const project = await sluice.createProject()
  const rule = await sluice.post('/api/reactions', {
    key: project.query_key,
    body: {
      name: 'errors',
      event_type: 'log',
      conditions: [{ field: 'level', op: 'eq', value: 'error' }],
      threshold: { count: 1 },
      group_by: ['message'],
      actions: [{ type: 'complaint' }, { type: 'webhook', url: webhookUrl }],
    },
  })
  expect(rule.status).toBe(201)
  const runId = randomUUID()
  const events = [
    { id: randomUUID(), type: 'run_start', data: { run_id: runId, name: 'recs', started_at: new Date().toISOString() } },
    { id: randomUUID(), type: 'run_complete', data: { run_id: runId, status: 'completed', completed_at: new Date().toISOString() } },
    // Several complaints, several deliveries: every test Sluice's dispatcher shares one Postgres,
    // and this one must make some of the attempts for its counters to exist.
    ...[1, 2, 3, 4, 5].map((n) => ({ id: randomUUID(), type: 'log', data: { level: 'error', message: `failure ${n}`, service: 'checkout' } })),
  ]
  expect((await sluice.post('/ingest', { key: project.ingest_key, body: { events } })).status).toBe(200)
  expect((await sluice.get('/no-such-route')).status).toBe(404)

  const kafka = createKafka({ brokers: sluice.config.kafka.brokers, clientId: 'prometheus-e2e', logger: createLogger({ level: 'silent' }) })
  const producer = kafka.producer()
  await producer.connect()
  await producer.send({ topic: sluice.config.kafka.eventsTopic, messages: [{ key: runId, value: Buffer.from('not an avro event') }] })
  await producer.disconnect()

  await sluice.waitUntilProcessed()
  await until(
    async () => {
      const text = (await sluice.get<string>('/metrics')).body
      return /^sluice_dead_letter_total\{/m.test(text) && /^sluice_webhook_deliveries_total\{/m.test(text)
    },
    15_000,
    () => 'no dead letter or webhook delivery counted by this Sluice',
  )
}
