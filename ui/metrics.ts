/** One sample of Prometheus' text format: `name{label="v",...} value`. */
export interface Sample {
  name: string
  labels: Record<string, string>
  value: number
}

/** Reads the samples of Prometheus' text exposition format (comments and malformed lines skipped). */
export function parseMetrics(text: string): Sample[] {
  const out: Sample[] = []
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line)
    if (!m) continue
    const labels: Record<string, string> = {}
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!
    const value = Number(m[3])
    if (Number.isFinite(value)) out.push({ name: m[1]!, labels, value })
  }
  return out
}

/** The sum of a metric's samples whose labels match `where`. */
export function sum(samples: Sample[], name: string, where: Record<string, string> = {}): number {
  return samples
    .filter((s) => s.name === name && Object.entries(where).every(([k, v]) => s.labels[k] === v))
    .reduce((n, s) => n + s.value, 0)
}
