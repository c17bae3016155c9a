/**
 * A real nginx in front of several `plinth serve` nodes, with the config `plinth deploy nginx`
 * generates (src/deploy/nginx.ts), under a temp prefix so it runs without touching /etc.
 * `reload()` is `nginx -s reload` for that instance.
 */
import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { nginxConfig, type NginxNode, type NginxOptions } from '../../src/deploy/nginx.ts'
import { NGINX, runNginx } from './nginx.ts'
import { unusedPort } from './redis.ts'

export { NGINX }

export interface NginxCluster {
  url: string
  /** The nginx.conf path (the rollout rewrites its upstream block). */
  conf: string
  /** The shell command that reloads this nginx. */
  reloadCommand: string
  reload(): void
  stop(): Promise<void>
}

export async function startNginxCluster(nodes: NginxNode[], config: NginxOptions['config'], failTimeout = 5): Promise<NginxCluster> {
  const dir = mkdtempSync(path.join(tmpdir(), 'plinth-nginx-cluster-'))
  mkdirSync(path.join(dir, 'tmp'))
  const port = await unusedPort()
  const conf = path.join(dir, 'nginx.conf')
  writeFileSync(conf, nginxConfig({ nodes, listen: `127.0.0.1:${port}`, prefix: dir, failTimeout, config }))
  const url = `http://127.0.0.1:${port}`
  const { child, exited } = await runNginx(dir, conf, `${url}/api/health`)
  const reloadCommand = `${NGINX} -p ${dir} -c ${conf} -s reload`
  return {
    url,
    conf,
    reloadCommand,
    reload() {
      const r = spawnSync(NGINX, ['-p', dir, '-c', conf, '-s', 'reload'], { encoding: 'utf8' })
      if (r.status !== 0) throw new Error(`nginx reload failed: ${r.stderr}`)
    },
    async stop() {
      child.kill('SIGQUIT')
      await exited
      if (process.env.KEEP_NGINX_LOG) spawnSync('cp', [path.join(dir, 'error.log'), process.env.KEEP_NGINX_LOG])
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
