import { spawn } from 'node:child_process'
import { StartupError } from '../config/errors.ts'
import { Autoscaler } from '../deploy/autoscale.ts'
import { parseNodes, type NginxNode } from '../deploy/nginx.ts'

type Flags = Record<string, string | boolean | undefined>

function num(v: Flags, flag: string, fallback: number, min = 0): number {
  const raw = v[flag]
  if (raw === undefined) return fallback
  const n = Number(raw)
  if (!Number.isFinite(n) || n < min) throw new StartupError(`--${flag}: "${String(raw)}" is not a number >= ${min}`)
  return n
}

function str(v: Flags, flag: string): string {
  const raw = v[flag]
  if (typeof raw !== 'string' || raw === '') throw new StartupError(`deploy autoscale: --${flag} is required`)
  return raw
}

function nodes(list: string, flag: string): NginxNode[] {
  try {
    return parseNodes(list)
  } catch (err) {
    throw new StartupError((err as Error).message.replace('--nodes', `--${flag}`))
  }
}

/** Runs `template` in sh with {host} and {port} filled; rejects on a non-zero exit. */
function run(template: string, node: NginxNode): Promise<void> {
  const command = template.replaceAll('{host}', node.host).replaceAll('{port}', String(node.port))
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', command], { stdio: ['ignore', 'inherit', 'inherit'] })
    child.once('error', reject)
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`"${command}" exited with ${code}`))))
  })
}

/** `plinth deploy autoscale`: until SIGTERM/SIGINT. */
export async function autoscaleCommand(v: Flags): Promise<number> {
  const slots = nodes(str(v, 'slots'), 'slots')
  const start = str(v, 'start')
  const stop = str(v, 'stop')
  const key = (n: NginxNode) => `${n.host}:${n.port}`
  const running = typeof v.running === 'string' ? nodes(v.running, 'running').map((r) => slots.find((s) => key(s) === key(r)) ?? r) : []
  let scaler: Autoscaler
  try {
    scaler = new Autoscaler({
      slots,
      min: num(v, 'min', 1, 1),
      max: num(v, 'max', slots.length, 1),
      start: (n) => run(start, n),
      stop: (n) => run(stop, n),
      intervalMs: num(v, 'interval', 2000, 100),
      cooldownMs: num(v, 'cooldown', 30_000),
      upCpu: num(v, 'up-cpu', 0.75),
      downCpu: num(v, 'down-cpu', 0.25),
      upLagMs: num(v, 'up-lag', 100),
      upRps: num(v, 'up-rps', 0),
      downRps: num(v, 'down-rps', 0),
      log: (line) => process.stderr.write(`autoscale: ${line}\n`),
    })
  } catch (err) {
    throw new StartupError((err as Error).message)
  }
  scaler.adopt(running)
  const end = () => scaler.stop()
  process.once('SIGTERM', end)
  process.once('SIGINT', end)
  await scaler.run()
  process.stderr.write(`autoscale: stopped with ${scaler.running.length} node(s) running\n`)
  return 0
}
