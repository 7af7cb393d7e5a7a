import { AggregatorRegistry, Counter, Gauge, Histogram, Registry, collectDefaultMetrics, type MetricObjectWithValues, type MetricValue } from 'prom-client'

/** Metrics of another registry (a worker thread's), as `getMetricsAsJSON` gives them. */
export type MetricsSnapshot = Array<MetricObjectWithValues<MetricValue<string>>>

/**
 * Every metric Sluice exports, on a registry of its own (one per process, or per test), so two
 * apps in one process never collide on the global registry.
 */
export function createMetrics(options: { defaultMetrics?: boolean } = {}) {
  const registry = new Registry()
  // Node's default metrics keep their usual names (process_*, nodejs_*), which the common Node.js
  // dashboards and alerts look for.
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry })
  const registers = [registry]
  const sources = new Set<() => Promise<MetricsSnapshot>>()

  return {
    registry,
    /**
     * Adds the metrics of a worker thread to what `render` exposes (counters and histograms are
     * summed by labels). Returns the function that removes it.
     */
    addSource(source: () => Promise<MetricsSnapshot>): () => void {
      sources.add(source)
      return () => sources.delete(source)
    },
    /** The text of /metrics: this registry's metrics and every source's, merged. */
    async render(): Promise<string> {
      if (sources.size === 0) return registry.metrics()
      const snapshots = await Promise.all([registry.getMetricsAsJSON(), ...[...sources].map((s) => s().catch(() => []))])
      return AggregatorRegistry.aggregate(snapshots).metrics()
    },
    httpRequestDuration: new Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP request latency by method, route and status code',
      labelNames: ['method', 'route', 'status_code'] as const,
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    ingestEvents: new Counter({
      name: 'sluice_ingest_events_total',
      help: 'Events seen by /ingest and POST /api/logs, by type and result (accepted, invalid, rate_limited, unavailable)',
      labelNames: ['type', 'result'] as const,
      registers,
    }),
    ingestRequests: new Counter({
      name: 'sluice_ingest_requests_total',
      help: 'Answers of POST /ingest and POST /api/logs by outcome (ok, partial, invalid, too_large, unauthorized, rate_limited, unavailable, error)',
      labelNames: ['outcome'] as const,
      registers,
    }),
    produceDuration: new Histogram({
      name: 'sluice_kafka_produce_duration_seconds',
      help: 'Time from send to acknowledgement by all in-sync replicas, per produce request',
      labelNames: ['topic', 'result'] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
      registers,
    }),
    processorMessages: new Counter({
      name: 'sluice_processor_messages_total',
      help: 'Messages handled by a processor, by outcome (stored, duplicate, ignored, skipped, dead_letter)',
      labelNames: ['processor', 'outcome'] as const,
      registers,
    }),
    processorBatchDuration: new Histogram({
      name: 'sluice_processor_batch_duration_seconds',
      help: 'Time to process, store and commit one fetch (all its partitions), by result (ok, error)',
      labelNames: ['processor', 'result'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    processorErrors: new Counter({
      name: 'sluice_processor_errors_total',
      help: 'Fetches that failed on a dependency and will be retried',
      labelNames: ['processor'] as const,
      registers,
    }),
    clickhouseInsertDuration: new Histogram({
      name: 'sluice_clickhouse_insert_duration_seconds',
      help: 'ClickHouse insert latency by table',
      labelNames: ['table'] as const,
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
    deadLetters: new Counter({
      name: 'sluice_dead_letter_total',
      help: 'Messages sent to the dead-letter topic, by processor and reason',
      labelNames: ['processor', 'reason'] as const,
      registers,
    }),
    consumerLag: new Gauge({
      name: 'kafka_consumergroup_lag',
      help: 'Messages not yet processed, by consumer group, topic and partition (end offset minus committed offset)',
      labelNames: ['group', 'topic', 'partition'] as const,
      // Under ingest workers (SLUICE_INGEST_WORKERS) every worker reads the same lag: not a sum.
      aggregator: 'max',
      registers,
    }),
    // kafka_exporter's name, so its "offset not moving" alerts and dashboards apply as they are.
    consumerOffset: new Gauge({
      name: 'kafka_consumergroup_current_offset',
      help: 'Committed offset, by consumer group, topic and partition (a stalled group stops moving it while lag > 0)',
      labelNames: ['group', 'topic', 'partition'] as const,
      aggregator: 'max',
      registers,
    }),
    ready: new Gauge({
      name: 'sluice_ready',
      help: '1 when /ready would answer 200 (dependencies and processors ok), else 0; refreshed by /ready and every scrape',
      // Under ingest workers (which share every dependency) the scrape refreshes only the worker
      // that answers it, and a kept-alive scraper always reaches the same one: the others' value
      // may be their initial 0, so the fresh answer is the largest.
      aggregator: 'max',
      registers,
    }),
    rulesEvaluated: new Counter({
      name: 'sluice_reaction_rules_evaluated_total',
      help: 'Rule evaluations (one per enabled rule of the event type, per event)',
      registers,
    }),
    ruleMatches: new Counter({
      name: 'sluice_reaction_matches_total',
      help: 'Events that matched a rule, counted once per rule and event id (result: counted, duplicate)',
      labelNames: ['result'] as const,
      registers,
    }),
    complaintsOpened: new Counter({
      name: 'sluice_complaints_opened_total',
      help: 'Complaints created by reaction rules, by severity',
      labelNames: ['severity'] as const,
      registers,
    }),
    webhookDeliveries: new Counter({
      name: 'sluice_webhook_deliveries_total',
      help: 'Webhook delivery attempts by outcome (succeeded, retry, failed, refused)',
      labelNames: ['outcome'] as const,
      registers,
    }),
    webhookDispatcherLag: new Gauge({
      name: 'sluice_webhook_dispatcher_lag_seconds',
      help: 'Age of the oldest pending delivery that is due (0 when none is waiting)',
      registers,
    }),
    webhookAttemptDuration: new Histogram({
      name: 'sluice_webhook_attempt_duration_seconds',
      help: 'Duration of one webhook HTTP attempt',
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    rateLimiterErrors: new Counter({
      name: 'sluice_rate_limiter_errors_total',
      help: 'Rate-limit checks that failed open because Redis did not answer',
      registers,
    }),
  }
}

export type Metrics = ReturnType<typeof createMetrics>
