/**
 * Whether an error says that a dependency is unavailable or misconfigured (retry the whole flush
 * later, dead-letter nothing) rather than that one event cannot be stored. Unknown errors are not
 * infrastructure: the poison isolation then decides by retrying the events alone, while the stores
 * answer their probes.
 */
export function isInfrastructureFailure(err: unknown): boolean {
  if (!err || typeof err !== 'object') return false
  const e = err as { code?: unknown; type?: unknown; name?: unknown; message?: unknown; retriable?: unknown }
  const code = typeof e.code === 'string' ? e.code : ''
  const message = typeof e.message === 'string' ? e.message : ''
  if (NODE_NETWORK_CODES.has(code)) return true
  // Postgres SQLSTATE classes: connection (08), resources (53), operator intervention (57), system
  // (58), transaction rollback (40: serialization, deadlock); and a schema that is not there.
  if (/^[0-9A-Z]{5}$/.test(code) && (/^(08|53|57|58|40)/.test(code) || PG_SCHEMA_CODES.has(code))) return true
  if (typeof e.type === 'string' && CLICKHOUSE_INFRA_TYPES.has(e.type)) return true
  const chCode = /\bCode: (\d+)\b/.exec(message)?.[1] ?? (/^\d+$/.test(code) ? code : undefined)
  if (chCode && CLICKHOUSE_INFRA_CODES.has(Number(chCode))) return true
  if (typeof e.name === 'string' && e.name.startsWith('KafkaJS')) return true
  if (typeof e.name === 'string' && e.name === 'MaxRetriesPerRequestError') return true
  return INFRA_MESSAGES.test(message)
}

const NODE_NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNABORTED', 'ENOSPC', 'EMFILE'])
const PG_SCHEMA_CODES = new Set(['42P01', '42703', '3D000', '42883'])
const CLICKHOUSE_INFRA_TYPES = new Set([
  'UNKNOWN_TABLE', 'UNKNOWN_DATABASE', 'NO_SUCH_COLUMN_IN_TABLE', 'TIMEOUT_EXCEEDED', 'MEMORY_LIMIT_EXCEEDED',
  'TOO_MANY_SIMULTANEOUS_QUERIES', 'NOT_ENOUGH_SPACE', 'CANNOT_ALLOCATE_MEMORY', 'TOO_MANY_PARTS', 'READONLY',
  'NETWORK_ERROR', 'SOCKET_TIMEOUT', 'ALL_CONNECTION_TRIES_FAILED', 'TABLE_IS_READ_ONLY', 'ABORTED',
])
// The same, by number (chdb reports "Code: N. DB::Exception: ..." in the message).
const CLICKHOUSE_INFRA_CODES = new Set([16, 60, 81, 159, 160, 164, 173, 202, 209, 210, 236, 241, 242, 252, 279, 425])
const INFRA_MESSAGES = /connection (terminated|is closed|refused|reset|ended)|socket hang up|timeout exceeded when trying to connect|Client has encountered a connection error|the database system is (starting up|shutting down)|ECONNREFUSED|ETIMEDOUT/i
