/** Field names whose values are credentials: they never reach the audit log. */
const SECRET_FIELD = /^(secret|key|token|password|authorization|ingest_key|query_key|key_hash|.*_secret|.*_token)$/i

export const REDACTED = '[redacted]'

/** A deep copy of `value` with every secret-named field replaced by `[redacted]`. */
export function redactSecrets(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redactSecrets)
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, SECRET_FIELD.test(k) && v !== null && v !== undefined ? REDACTED : redactSecrets(v)]))
  }
  return value
}

/** `{field: {from, to}}` for each top-level field that differs, secrets redacted. */
export function changedFields(before: Record<string, unknown>, after: Record<string, unknown>, ignore: readonly string[] = []): Record<string, { from: unknown; to: unknown }> {
  const out: Record<string, { from: unknown; to: unknown }> = {}
  for (const field of new Set([...Object.keys(before), ...Object.keys(after)])) {
    if (ignore.includes(field)) continue
    if (JSON.stringify(before[field]) === JSON.stringify(after[field])) continue
    // Redacted as a one-field object, so a field that is itself a secret is caught by its name.
    const redact = (v: unknown) => (redactSecrets({ [field]: v ?? null }) as Record<string, unknown>)[field]
    out[field] = { from: redact(before[field]), to: redact(after[field]) }
  }
  return out
}
