/**
 * `plinth deploy nginx|systemd|rollout` as an operator runs them: the nginx config passes the real
 * `nginx -t` (plain, TLS, with the CDN secure_link location), the systemd units run node on the bin,
 * and a rollout whose restart command fails stops with one line and exit 1.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { describe, test } from 'node:test'
import { runCli } from '../helpers/cli.ts'
import { NGINX } from '../helpers/nginx-cluster.ts'
import { nginxSkip } from '../helpers/nginx.ts'

/** `nginx -t` on `conf` with pid and logs in `dir` (the config names none when written for /etc). */
function nginxTest(dir: string, conf: string): { status: number | null; out: string } {
  const r = spawnSync(NGINX, ['-t', '-p', dir, '-c', conf, '-g', `pid ${dir}/nginx.pid; error_log ${dir}/error.log;`], { encoding: 'utf8' })
  return { status: r.status, out: r.stderr }
}

describe('plinth deploy nginx', { skip: nginxSkip() }, () => {
  test('the config it writes passes nginx -t, plain and with TLS and the CDN location', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'plinth-deploy-nginx-'))
    const plain = path.join(dir, 'plain.conf')
    const r = await runCli(['deploy', 'nginx', '--nodes', '10.0.0.1:8090,10.0.0.2:8090', '--listen', '127.0.0.1:8080', '--cache-dir', `${dir}/cache`, '--out', plain], {}, dir)
    assert.equal(r.code, 0, r.stderr)
    const text = readFileSync(plain, 'utf8')
    assert.match(text, /server 10\.0\.0\.1:8090 max_fails=3/)
    assert.match(text, /server 10\.0\.0\.2:8090 max_fails=3/)
    assert.match(text, /proxy_set_header X-Real-IP \$remote_addr;/)
    // Idempotent retries only, SSE unbuffered, WebSocket upgraded, nginx's body limit = Plinth's 32 MiB default.
    assert.match(text, /proxy_next_upstream error timeout http_502 http_503 http_504;/)
    assert.doesNotMatch(text, /non_idempotent/)
    assert.match(text, /location \/api\/realtime \{[^}]*proxy_buffering off;/)
    assert.match(text, /location \/api\/plinth\/im \{[^}]*Connection \$connection_upgrade;/)
    assert.match(text, /client_max_body_size 32m;/)
    const t1 = nginxTest(dir, plain)
    assert.equal(t1.status, 0, t1.out)

    const cert = path.join(dir, 'cert.pem')
    const key = path.join(dir, 'key.pem')
    const ssl = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-days', '1', '-keyout', key, '-out', cert], { encoding: 'utf8' })
    assert.equal(ssl.status, 0, ssl.stderr)
    writeFileSync(
      path.join(dir, 'plinth.config.json'),
      JSON.stringify({ bodyLimit: 5 * 1024 * 1024, cdn: { baseUrl: 'https://cdn.example.com/media', signer: 'nginx', key: 'a-secret', expression: '$secure_link_expires$uri $key' } }),
    )
    const tls = path.join(dir, 'tls.conf')
    const r2 = await runCli(['deploy', 'nginx', '--nodes', '127.0.0.1:8090', '--listen', '127.0.0.1:8443', '--tls', `${cert},${key}`, '--cache-dir', `${dir}/cache`, '--out', tls], {}, dir)
    assert.equal(r2.code, 0, r2.stderr)
    const tlsText = readFileSync(tls, 'utf8')
    assert.match(tlsText, /listen 127\.0\.0\.1:8443 ssl;/)
    assert.match(tlsText, /return 301 https:\/\/\$host\$request_uri;/)
    assert.match(tlsText, /client_max_body_size 5m;/)
    // The CDN path is checked by secure_link with the secret written in, then served from /api/files/.
    assert.match(tlsText, /location \/media\/ \{[^}]*secure_link_md5 "\$secure_link_expires\$uri a-secret";[^]*?proxy_pass http:\/\/plinth_nodes\/api\/files\/;/)
    const t2 = nginxTest(dir, tls)
    assert.equal(t2.status, 0, t2.out)
  })

  test('bad nodes are one line and exit 2', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'plinth-deploy-nginx-'))
    for (const nodes of ['', 'host-without-port', '1.2.3.4:99999']) {
      const r = await runCli(['deploy', 'nginx', '--nodes', nodes], {}, dir)
      assert.equal(r.code, 2, `${nodes}: ${r.stderr}`)
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr)
      assert.match(r.stderr, /^plinth: (deploy: )?--nodes/)
    }
  })
})

describe('plinth deploy systemd', () => {
  test('writes API and worker units that run node on the bin and drain before a stop', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'plinth-deploy-systemd-'))
    const r = await runCli(['deploy', 'systemd', '--out', dir, '--app-dir', '/srv/plinth/current', '--node', '/usr/local/bin/node'], {}, dir)
    assert.equal(r.code, 0, r.stderr)
    const api = readFileSync(path.join(dir, 'plinth-api.service'), 'utf8')
    const worker = readFileSync(path.join(dir, 'plinth-worker.service'), 'utf8')
    assert.match(api, /^ExecStart=\/usr\/local\/bin\/node \/srv\/plinth\/current\/bin\/plinth\.js serve --no-worker --http 127\.0\.0\.1:8090 --dir \/var\/lib\/plinth$/m)
    assert.match(worker, /^ExecStart=\/usr\/local\/bin\/node \/srv\/plinth\/current\/bin\/plinth\.js worker --dir \/var\/lib\/plinth$/m)
    for (const unit of [api, worker]) {
      assert.doesNotMatch(unit, /^ExecStart=.*\b(npx|npm)\b/m)
      assert.match(unit, /^KillSignal=SIGTERM$/m)
      assert.match(unit, /^Restart=on-failure$/m)
      assert.match(unit, /^LimitNOFILE=65536$/m)
      assert.match(unit, /^EnvironmentFile=\/etc\/plinth\/plinth\.env$/m)
    }
    // The drain (5 s) plus shutdownTimeout (10 s) plus a margin before systemd's SIGKILL.
    assert.match(api, /^Environment=PLINTH_SHUTDOWN_DRAIN=5000$/m)
    assert.match(api, /^TimeoutStopSec=20$/m)
  })
})

describe('plinth deploy rollout', () => {
  test('a failing restart command stops the rollout: one line, exit 1', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'plinth-deploy-rollout-'))
    const r = await runCli(['deploy', 'rollout', '--nodes', '127.0.0.1:1', '--restart', 'echo restarting {host} {port} >&2; exit 3'], {}, dir)
    assert.equal(r.code, 1, r.stderr)
    assert.match(r.stderr, /restarting 127\.0\.0\.1 1/)
    assert.match(r.stderr, /^plinth: "echo restarting 127\.0\.0\.1 1 >&2; exit 3" exited with 3$/m)
  })

  test('without --restart it says what is missing, exit 2', async () => {
    const r = await runCli(['deploy', 'rollout', '--nodes', '127.0.0.1:1'], {}, tmpdir())
    assert.equal(r.code, 2)
    assert.match(r.stderr, /--restart CMD is required/)
  })
})
