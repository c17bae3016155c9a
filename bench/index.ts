/**
 * `npm run bench [-- [--duration SEC] [--connections N] [--warmup SEC] [--rounds N] [--list] [SCENARIO|GROUP...]]`
 *
 * Runs every scenario in bench/scenarios/ (or those named): for each target, starts its server in
 * its own process, loads it with autocannon (another process) on 127.0.0.1, stops it, and reports
 * requests/s as a ratio to the scenario's reference measured in the same run. Prints a table and
 * writes bench/results/latest.json. Targets run one after another, so each has both cores' share.
 * With `--rounds N` the targets take turns N times and each figure is the median of its rounds, so
 * a burst of other work on the machine skews one round of every target rather than one target.
 * A scenario with `measure()` (realtime) runs itself once and reports its own figures, each as a
 * ratio to another of its figures, in a table of the same style.
 */
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import { measure } from './lib/load.ts'
import { dropDatabases } from './lib/seed.ts'
import { ROOT } from './lib/servers.ts'
import type { Figure, LoadOptions, LoadResult, MeasuredScenario, Scenario, Target } from './lib/types.ts'

const { values, positionals } = parseArgs({
  args: process.argv.slice(2),
  allowPositionals: true,
  options: {
    duration: { type: 'string', default: '5' },
    connections: { type: 'string', default: '50' },
    warmup: { type: 'string', default: '1' },
    rounds: { type: 'string', default: '1' },
    list: { type: 'boolean', default: false },
  },
})
const rounds = Number(values.rounds)
if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`bench: bad --rounds: ${values.rounds}`)
const opts: LoadOptions = {
  durationSec: Number(values.duration),
  connections: Number(values.connections),
  warmupSec: Number(values.warmup),
}
for (const [k, v] of Object.entries(opts)) {
  if (!Number.isFinite(v) || v < 0 || (k !== 'warmupSec' && v === 0)) throw new Error(`bench: bad --${k}: ${v}`)
}

type AnyScenario = Scenario | MeasuredScenario

async function loadScenarios(names: string[]): Promise<AnyScenario[]> {
  const dir = path.join(ROOT, 'bench', 'scenarios')
  const all: AnyScenario[] = []
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts')).sort()) {
    // A file exports one scenario, or several (the same scenario over several engines).
    const mod = (await import(pathToFileURL(path.join(dir, file)).href)) as { default: AnyScenario | AnyScenario[] }
    all.push(...(Array.isArray(mod.default) ? mod.default : [mod.default]))
  }
  const groups = [...new Set(all.flatMap((s) => (s.group ? [s.group] : [])))]
  const unknown = names.filter((n) => !all.some((s) => s.name === n || s.group === n))
  if (unknown.length) throw new Error(`bench: no scenario ${unknown.join(', ')} (have ${all.map((s) => s.name).join(', ')}; groups ${groups.join(', ')})`)
  return names.length ? all.filter((s) => names.includes(s.name) || (s.group !== undefined && names.includes(s.group))) : all
}

interface TargetResult extends Partial<LoadResult> {
  target: string
  notes?: string
  /** requests/s divided by the reference's requests/s. */
  ratio?: number
  /** requests/s of each round, in order. */
  rounds?: number[]
  skipped?: string
  /** The figure was published elsewhere, not measured in this run. */
  published?: boolean
}

interface ScenarioResult {
  scenario: string
  description: string
  reference: string
  connections: number
  amount?: number
  results: TargetResult[]
}

function fmt(n: number | undefined, digits = 0): string {
  return n === undefined ? '-' : n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
}

function printTable(r: ScenarioResult): void {
  const rows = [
    ['target', 'req/s', `ratio to ${r.reference}`, 'p50 ms', 'p99 ms', 'non-2xx', 'errors'],
    ...r.results.map((t) =>
      t.skipped
        ? [t.target, `skipped: ${t.skipped}`, '', '', '', '', '']
        : t.published
        ? [`${t.target} (published)`, fmt(t.requestsPerSec), fmt(t.ratio, 2), '', '', '', '']
        : [t.target, fmt(t.requestsPerSec), fmt(t.ratio, 2), fmt(t.latencyP50Ms, 1), fmt(t.latencyP99Ms, 1), fmt(t.non2xx), fmt((t.errors ?? 0) + (t.timeouts ?? 0))],
    ),
  ]
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)))
  const conc = r.connections === opts.connections && !r.amount ? '' : ` [${r.amount ? `${r.amount} requests, ` : ''}${r.connections} connections]`
  process.stdout.write(`\n${r.scenario}: ${r.description}${conc}\n`)
  for (const [i, row] of rows.entries()) {
    process.stdout.write(`  ${row.map((c, j) => (j === 0 ? c.padEnd(widths[j]!) : c.padStart(widths[j]!))).join('  ')}\n`)
    if (i === 0) process.stdout.write(`  ${widths.map((w) => '-'.repeat(w)).join('  ')}\n`)
  }
}

interface MeasuredResult {
  scenario: string
  description: string
  skipped?: string
  figures: (Figure & { ratio?: number })[]
}

async function runMeasured(s: MeasuredScenario): Promise<MeasuredResult> {
  const skipped = await s.skip?.()
  if (skipped) return { scenario: s.name, description: s.description, skipped, figures: [] }
  process.stderr.write(`bench: ${s.name}: measuring\n`)
  const figures = await s.measure()
  const byName = new Map(figures.map((f) => [f.name, f.value]))
  return {
    scenario: s.name,
    description: s.description,
    figures: figures.map((f) => {
      const ref = f.reference === undefined ? undefined : byName.get(f.reference)
      return ref ? { ...f, ratio: f.value / ref } : f
    }),
  }
}

function printMeasured(r: MeasuredResult): void {
  const rows = r.skipped
    ? [['figure', 'value'], ['-', `skipped: ${r.skipped}`]]
    : [
        ['figure', 'value', 'unit', 'ratio', 'to'],
        ...r.figures.map((f) => [f.name, fmt(f.value, f.unit === 'MiB' ? 1 : f.unit === 'ms' ? 1 : 0), f.unit, f.ratio === undefined ? '' : fmt(f.ratio, 2), f.reference ?? '']),
      ]
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)))
  process.stdout.write(`\n${r.scenario}: ${r.description}\n`)
  for (const [i, row] of rows.entries()) {
    process.stdout.write(`  ${row.map((c, j) => (j === 0 || j === 4 ? c.padEnd(widths[j]!) : c.padStart(widths[j]!))).join('  ')}\n`)
    if (i === 0) process.stdout.write(`  ${widths.map((w) => '-'.repeat(w)).join('  ')}\n`)
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(s.length / 2)
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2
}

async function runScenario(s: Scenario): Promise<ScenarioResult> {
  const runs = new Map<string, LoadResult[]>()
  const skips = new Map<string, string>()
  const load: LoadOptions = { ...opts, connections: s.connections ?? opts.connections, amount: s.amount }
  const live = s.targets.filter((t): t is Target => !t.published)
  for (const target of live) {
    const skipped = await target.skip?.()
    if (skipped) skips.set(target.name, skipped)
  }
  for (let round = 1; round <= rounds; round++) {
    for (const target of live) {
      if (skips.has(target.name)) continue
      const length = load.amount ? `${load.amount} requests` : `${load.durationSec} s`
      process.stderr.write(`bench: ${s.name} / ${target.name}: round ${round}/${rounds}, ${load.connections} connections, ${length}\n`)
      const server = await target.start()
      try {
        const request = await target.request(server)
        const result = await measure(server.url, request, load)
        runs.set(target.name, [...(runs.get(target.name) ?? []), result])
      } finally {
        await server.stop()
      }
    }
  }
  const results: TargetResult[] = s.targets.map((t) => {
    if (t.published) return { target: t.name, notes: t.notes, requestsPerSec: t.published.requestsPerSec, published: true }
    const skipped = skips.get(t.name)
    if (skipped) return { target: t.name, notes: t.notes, skipped }
    const rs = runs.get(t.name)!
    const mid = median(rs.map((r) => r.requestsPerSec))
    // The round whose req/s is the median stands for the target; every round's req/s is kept.
    const chosen = rs.reduce((a, b) => (Math.abs(b.requestsPerSec - mid) < Math.abs(a.requestsPerSec - mid) ? b : a))
    return { target: t.name, notes: t.notes, ...chosen, requestsPerSec: mid, rounds: rs.map((r) => r.requestsPerSec) }
  })
  const ref = results.find((r) => r.target === s.reference)?.requestsPerSec
  for (const r of results) if (ref && r.requestsPerSec !== undefined) r.ratio = r.requestsPerSec / ref
  return { scenario: s.name, description: s.description, reference: s.reference, connections: load.connections, amount: load.amount, results }
}

const scenarios = await loadScenarios(positionals)
if (values.list) {
  for (const s of scenarios) process.stdout.write(`${s.name}${s.group ? ` (${s.group})` : ''}: ${s.description}\n`)
  process.exit(0)
}
const report = {
  date: new Date().toISOString(),
  command: `npm run bench -- --duration ${opts.durationSec} --connections ${opts.connections} --warmup ${opts.warmupSec} --rounds ${rounds}${positionals.length ? ` ${positionals.join(' ')}` : ''}`,
  machine: {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
    loadAverage: os.loadavg().map((l) => Math.round(l * 100) / 100),
  },
  load: { ...opts, rounds },
  scenarios: [] as (ScenarioResult | MeasuredResult)[],
}
try {
  for (const s of scenarios) {
    if ('measure' in s) {
      const r = await runMeasured(s)
      report.scenarios.push(r)
      printMeasured(r)
      continue
    }
    const r = await runScenario(s)
    report.scenarios.push(r)
    printTable(r)
  }
} finally {
  await dropDatabases()
}
// Other work on the machine skews the figures: the load average after the run shows how much.
Object.assign(report.machine, { loadAverageAfter: os.loadavg().map((l) => Math.round(l * 100) / 100) })
const out = path.join(ROOT, 'bench', 'results')
mkdirSync(out, { recursive: true })
writeFileSync(path.join(out, 'latest.json'), `${JSON.stringify(report, null, 2)}\n`)
process.stdout.write(`\nwrote bench/results/latest.json\n`)
