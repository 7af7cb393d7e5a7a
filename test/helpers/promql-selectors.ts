/**
 * The metric names, their label matchers and the grouping labels a PromQL expression uses, found
 * with a small scanner rather than a parser: enough for the expressions of deploy/ (selectors,
 * functions, aggregations with by/without, on/ignoring, ranges), which is all the tests need.
 *
 *   promqlSelectors('sum by (route) (rate(http_request_duration_seconds_count{status_code=~"5.."}[5m]))')
 *   // { selectors: [{ name: 'http_request_duration_seconds_count', labels: ['status_code'] }], grouping: ['route'] }
 */
export interface PromqlSelectors {
  selectors: Array<{ name: string; labels: string[] }>
  grouping: string[]
}

const KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'inf', 'nan', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right'])

export function promqlSelectors(expr: string): PromqlSelectors {
  const grouping: string[] = []
  const rest = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '""')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)/g, (_m, labels: string) => {
      grouping.push(...labels.split(',').map((l) => l.trim()).filter(Boolean))
      return ' '
    })
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\boffset\s+\w+/g, ' ')
  const selectors: PromqlSelectors['selectors'] = []
  for (const m of rest.matchAll(/(?<![\w.:])([A-Za-z_:][\w:]*)\s*(\{[^}]*\})?(\s*\()?/g)) {
    const [, name, matchers, call] = m
    if (call || KEYWORDS.has(name!.toLowerCase())) continue
    const labels = [...(matchers ?? '').matchAll(/([A-Za-z_]\w*)\s*(?:=~|!~|!=|=)/g)].map((l) => l[1]!)
    selectors.push({ name: name!, labels })
  }
  return { selectors, grouping: [...new Set(grouping)] }
}
