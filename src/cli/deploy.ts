import { mkdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { StartupError } from '../config/errors.ts'
import { configFromFlags } from './load.ts'
import { nginxConfig, type NginxNode } from '../deploy/nginx.ts'
import { DEFAULT_SETTLE_MS, rollout, RolloutError } from '../deploy/rollout.ts'
import { SYSTEMD_DEFAULTS, systemdUnits } from '../deploy/systemd.ts'
import { DeployError, Releases } from '../deploy/releases.ts'
import { deployUsage } from './deploy-usage.ts'
import { nodeList, runTemplate } from './deploy-shell.ts'

function write(out: string | undefined, text: string): void {
  if (!out) return void process.stdout.write(text)
  writeFileSync(out, text)
  process.stderr.write(`wrote ${out}\n`)
}

function positiveInt(value: string | undefined, flag: string, fallback: number): number {
  if (value === undefined) return fallback
  const n = Number(value)
  if (!Number.isInteger(n) || n < 0) throw new StartupError(`${flag}: "${value}" is not a whole number`)
  return n
}

/** `plinth deploy ...`; its own flags, so it parses its arguments itself. */
export async function deployCommand(argv: string[]): Promise<number> {
  const { values: v, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      nodes: { type: 'string' }, listen: { type: 'string' }, 'server-name': { type: 'string' }, tls: { type: 'string' }, 'cache-dir': { type: 'string' }, 'worker-connections': { type: 'string' },
      out: { type: 'string' }, config: { type: 'string' }, dir: { type: 'string' },
      'app-dir': { type: 'string' }, 'data-dir': { type: 'string' }, 'env-file': { type: 'string' }, user: { type: 'string' },
      http: { type: 'string' }, node: { type: 'string' },
      restart: { type: 'string' }, rollback: { type: 'string' }, 'ready-timeout': { type: 'string' }, settle: { type: 'string' },
      slots: { type: 'string' }, min: { type: 'string' }, max: { type: 'string' }, start: { type: 'string' }, stop: { type: 'string' },
      running: { type: 'string' }, interval: { type: 'string' }, cooldown: { type: 'string' }, 'up-cpu': { type: 'string' }, 'down-cpu': { type: 'string' }, 'up-lag': { type: 'string' }, 'up-rps': { type: 'string' }, 'down-rps': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  })
  const [sub] = positionals
  if (v.help || !sub) {
    process.stdout.write(deployUsage)
    return v.help ? 0 : 2
  }
  const nodes = (): NginxNode[] => nodeList(v.nodes, 'nodes')
  const config = () => configFromFlags({ config: v.config, dir: v.dir })
  switch (sub) {
    case 'nginx': {
      let tls: { cert: string; key: string } | undefined
      if (v.tls) {
        const [cert, key] = v.tls.split(',')
        if (!cert || !key) throw new StartupError('--tls: give CERT,KEY (two PEM file paths)')
        tls = { cert: path.resolve(cert), key: path.resolve(key) }
      }
      write(v.out, nginxConfig({ nodes: nodes(), listen: v.listen, serverName: v['server-name'], tls, cacheDir: v['cache-dir'], workerConnections: v['worker-connections'] ? positiveInt(v['worker-connections'], '--worker-connections', 4096) || 4096 : undefined, config: config() }))
      return 0
    }
    case 'systemd': {
      const c = config()
      const units = systemdUnits({
        appDir: v['app-dir'] ?? SYSTEMD_DEFAULTS.appDir,
        dataDir: v['data-dir'] ?? SYSTEMD_DEFAULTS.dataDir,
        envFile: v['env-file'] ?? SYSTEMD_DEFAULTS.envFile,
        user: v.user ?? SYSTEMD_DEFAULTS.user,
        http: v.http ?? SYSTEMD_DEFAULTS.http,
        node: v.node ?? process.execPath,
        shutdownTimeoutMs: c.shutdownTimeout,
        drainMs: Math.max(c.shutdownDrain, 5000),
      })
      if (!v.out) {
        for (const [name, text] of Object.entries(units)) process.stdout.write(`# --- ${name}\n${text}\n`)
        return 0
      }
      mkdirSync(v.out, { recursive: true })
      for (const [name, text] of Object.entries(units)) write(path.join(v.out, name), text)
      return 0
    }
    case 'rollout': {
      const list = nodes()
      if (!v.restart) throw new StartupError('deploy rollout: --restart CMD is required')
      const restart = v.restart
      const rollbackCmd = v.rollback
      try {
        await rollout({
          nodes: list,
          restart: (n) => runTemplate(restart, n),
          ...(rollbackCmd ? { rollback: (n: NginxNode) => runTemplate(rollbackCmd, n) } : {}),
          readyTimeoutMs: positiveInt(v['ready-timeout'], '--ready-timeout', 60_000),
          settleMs: positiveInt(v.settle, '--settle', DEFAULT_SETTLE_MS),
          log: (line) => process.stderr.write(`rollout: ${line}\n`),
        })
      } catch (err) {
        if (err instanceof RolloutError) {
          process.stderr.write(`plinth: ${err.message}\n`)
          return 1
        }
        throw err
      }
      process.stderr.write(`rollout: done, ${list.length} node(s) on the new release\n`)
      return 0
    }
    case 'autoscale':
      return (await import('./deploy-autoscale.ts')).autoscaleCommand(v)
    case 'release':
    case 'rollback':
    case 'releases': {
      const { deploy } = config()
      if (!deploy.root) throw new StartupError('deploy: deploy.root (PLINTH_DEPLOY_ROOT) is not set: where are the releases?')
      const releases = new Releases({ ...deploy, log: (line) => process.stderr.write(`deploy: ${line}\n`) })
      if (sub === 'releases') {
        for (const r of releases.list()) process.stdout.write(`${r.current ? '*' : ' '} ${r.name}\n`)
        return 0
      }
      try {
        if (sub === 'rollback') {
          const r = await releases.rollback()
          process.stderr.write(`deploy: rolled back to ${r.name}\n`)
          return 0
        }
        const ref = positionals[1]
        if (!deploy.repo) throw new StartupError('deploy: deploy.repo (PLINTH_DEPLOY_REPO) is not set: what to clone?')
        if (!ref) throw new StartupError('deploy release: give the commit or branch to deploy')
        const r = await releases.deploy(ref)
        process.stderr.write(`deploy: ${r.name} is current\n`)
        return 0
      } catch (err) {
        if (!(err instanceof DeployError)) throw err
        if (err.output) process.stderr.write(`${err.output.trimEnd()}\n`)
        process.stderr.write(`plinth: ${err.message}\n`)
        return 1
      }
    }
    default:
      throw new StartupError(`deploy: unknown subcommand "${sub}" (nginx, systemd, rollout, release, rollback, releases)`)
  }
}
