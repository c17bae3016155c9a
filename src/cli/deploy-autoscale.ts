import { StartupError } from '../config/errors.ts'
import { Autoscaler } from '../deploy/autoscale.ts'
import type { NginxNode } from '../deploy/nginx.ts'
import { nodeList, runTemplate } from './deploy-shell.ts'

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

/** `plinth deploy autoscale`: until SIGTERM/SIGINT. */
export async function autoscaleCommand(v: Flags): Promise<number> {
  const slots = nodeList(str(v, 'slots'), 'slots')
  const start = str(v, 'start')
  const stop = str(v, 'stop')
  const key = (n: NginxNode) => `${n.host}:${n.port}`
  const running = typeof v.running === 'string' ? nodeList(v.running, 'running').map((r) => slots.find((s) => key(s) === key(r)) ?? r) : []
  let scaler: Autoscaler
  try {
    scaler = new Autoscaler({
      slots,
      min: num(v, 'min', 1, 1),
      max: num(v, 'max', slots.length, 1),
      start: (n) => runTemplate(start, n),
      stop: (n) => runTemplate(stop, n),
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
