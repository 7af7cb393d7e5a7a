/**
 * The `outcome` label of sluice_ingest_requests_total for an answer of `POST /ingest` or
 * `POST /api/logs`, from its status: every way an answer is made (the body parser's 413, the
 * auth hook's 401, the acceptor's 207/429/503) ends in one status, so counting there misses none.
 */
export function ingestOutcome(statusCode: number): string {
  if (statusCode === 200) return 'ok'
  if (statusCode === 207) return 'partial'
  if (statusCode === 401 || statusCode === 403) return 'unauthorized'
  if (statusCode === 413) return 'too_large'
  if (statusCode === 429) return 'rate_limited'
  if (statusCode === 503) return 'unavailable'
  if (statusCode >= 400 && statusCode < 500) return 'invalid'
  return 'error'
}

/** The routes whose answers sluice_ingest_requests_total counts. */
export const INGEST_ROUTES: ReadonlySet<string> = new Set(['POST /ingest', 'POST /api/logs'])
