/**
 * A real nginx as the CDN edge in tests: a config written into a temp folder, run in the
 * foreground (`nginx -p DIR -c nginx.conf -g 'daemon off;'`) on an unused 127.0.0.1 port, in
 * front of `upstream`. It checks signed URLs with `secure_link` + `secure_link_md5` (403 for a
 * missing, tampered or expired link) and caches what it proxies (`proxy_cache`, keyed by the path
 * alone so the signature does not split the cache), telling `X-Cache-Status` on every answer.
 *
 * Debian's `nginx` package (scripts/services.sh installs it); without it the suites using this
 * skip loudly, except under PLINTH_REQUIRE_SERVICES=1.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { unusedPort } from './redis.ts'

export const NGINX = process.env.PLINTH_TEST_NGINX ?? '/usr/sbin/nginx'

/** Why nginx suites skip (undefined: nginx is here); throws under PLINTH_REQUIRE_SERVICES=1. */
export function nginxSkip(): string | undefined {
  if (spawnSync(NGINX, ['-v']).status === 0) return undefined
  const reason = `nginx not found at ${NGINX} (scripts/services.sh installs it)`
  if (process.env.PLINTH_REQUIRE_SERVICES === '1') throw new Error(reason)
  process.stderr.write(`\n!!! SKIPPING nginx tests: ${reason}\n\n`)
  return reason
}

/**
 * Runs nginx in the foreground with `conf` under `prefix` and resolves once `probe` answers (the
 * 10 s bound only turns a hang into a readable failure); `exited` resolves when it stops.
 */
export async function runNginx(prefix: string, conf: string, probe: string): Promise<{ child: ChildProcess; exited: Promise<void> }> {
  const child = spawn(NGINX, ['-p', prefix, '-c', conf, '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()))
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`nginx exited (${child.exitCode}): ${stderr}`)
    try {
      await (await fetch(probe)).arrayBuffer()
      return { child, exited }
    } catch {
      if (i > 200) throw new Error(`nginx did not answer within 10 s: ${stderr}`)
      await new Promise((r) => setTimeout(r, 50))
    }
  }
}

export interface NginxEdge {
  /** `http://127.0.0.1:PORT` */
  url: string
  stop(): Promise<void>
}

export interface NginxEdgeOptions {
  /** `http://127.0.0.1:PORT` of the origin. */
  upstream: string
  /** The `secure_link_md5` expression as nginx.conf says it (the secret written in). */
  secureLinkMd5: string
}

/** Starts nginx; resolves once it answers. */
export async function startNginxEdge({ upstream, secureLinkMd5 }: NginxEdgeOptions): Promise<NginxEdge> {
  const dir = mkdtempSync(path.join(tmpdir(), 'plinth-nginx-'))
  for (const d of ['cache', 'tmp', 'logs']) mkdirSync(path.join(dir, d))
  const port = await unusedPort()
  // As root, nginx's workers would run as `nobody` and could not write the cache in a 0700 temp folder.
  const user = process.getuid?.() === 0 ? 'user root root;' : ''
  writeFileSync(
    path.join(dir, 'nginx.conf'),
    `${user}
worker_processes 1;
error_log ${dir}/logs/error.log warn;
pid ${dir}/nginx.pid;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path ${dir}/tmp/body;
  proxy_temp_path ${dir}/tmp/proxy;
  fastcgi_temp_path ${dir}/tmp/fastcgi;
  uwsgi_temp_path ${dir}/tmp/uwsgi;
  scgi_temp_path ${dir}/tmp/scgi;
  proxy_cache_path ${dir}/cache levels=1:2 keys_zone=files:1m max_size=64m inactive=10m use_temp_path=off;
  server {
    listen 127.0.0.1:${port};
    location / {
      secure_link $arg_md5,$arg_expires;
      secure_link_md5 "${secureLinkMd5.replace(/["\\]/g, '\\$&')}";
      # "" = no or a wrong md5, "0" = expired.
      if ($secure_link = "") { return 403; }
      if ($secure_link = "0") { return 403; }
      proxy_pass ${upstream};
      proxy_cache files;
      proxy_cache_key $uri;
      proxy_cache_valid 200 10m;
      add_header X-Cache-Status $upstream_cache_status always;
    }
  }
}
`,
  )
  const url = `http://127.0.0.1:${port}`
  const { child, exited } = await runNginx(dir, path.join(dir, 'nginx.conf'), `${url}/`)
  return {
    url,
    async stop() {
      child.kill('SIGQUIT')
      await exited
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
