/**
 * The Ansible playbook (deploy/ansible/) run for real by Debian's ansible-playbook against three
 * "hosts" on this machine (ansible_connection=local, each with a folder of its own as its root
 * and its own port): two API nodes on one PostgreSQL database, and nginx in front with the config
 * `plinth deploy nginx` writes. It leaves working nodes behind nginx, writes the tuning and
 * firewall files, and a second run changes nothing.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { after, describe, test } from 'node:test'
import { createTestDb } from '../helpers/engines.ts'
import { engines } from '../helpers/engines.ts'
import { nginxSkip } from '../helpers/nginx.ts'
import { unusedPort } from '../helpers/redis.ts'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const PLAYBOOK = path.join(ROOT, 'deploy', 'ansible', 'site.yml')

function ansibleSkip(): string | undefined {
  if (spawnSync('ansible-playbook', ['--version']).status === 0) return undefined
  const reason = 'ansible-playbook not found (scripts/services.sh installs Debian\'s ansible-core)'
  if (process.env.PLINTH_REQUIRE_SERVICES === '1') throw new Error(reason)
  process.stderr.write(`\n!!! SKIPPING the Ansible test: ${reason}\n\n`)
  return reason
}

const pg = (await engines()).find((e) => e.engine === 'postgres')!
const skip = pg.skip || nginxSkip() || ansibleSkip()

/** The PLAY RECAP's changed=N of every host. */
function changedCounts(out: string): Record<string, number> {
  const counts: Record<string, number> = {}
  for (const m of out.matchAll(/^(\S+)\s+:\s+ok=\d+\s+changed=(\d+)/gm)) counts[m[1]!] = Number(m[2])
  return counts
}

describe('the Ansible playbook', { skip, timeout: 280_000 }, () => {
  const cleanup: (() => unknown)[] = []
  after(async () => {
    for (const fn of cleanup.reverse()) await Promise.resolve(fn()).catch(() => undefined)
  })

  test('provisions two API nodes and nginx on local hosts; a second run changes nothing', async () => {
    const db = await createTestDb('postgres')
    cleanup.push(() => db.drop())
    const dir = mkdtempSync(path.join(tmpdir(), 'plinth-ansible-'))
    const ports = { node1: await unusedPort(), node2: await unusedPort(), edge: await unusedPort() }
    const env = JSON.stringify({ PLINTH_DB: db.url, PLINTH_RATE_LIMITS_ENABLED: 'false' })
    writeFileSync(
      path.join(dir, 'inventory.ini'),
      `[api]
node1 plinth_port=${ports.node1}
node2 plinth_port=${ports.node2}

[lb]
edge nginx_port=${ports.edge}

[all:vars]
ansible_connection=local
ansible_host=127.0.0.1
ansible_python_interpreter=/usr/bin/python3
plinth_prefix=${dir}/{{ inventory_hostname }}
plinth_apply_system=false
plinth_service_manager=process
plinth_node=${process.execPath}
plinth_release=test
plinth_release_link=${ROOT.replace(/\/$/, '')}
plinth_lb_hosts=["127.0.0.1"]
plinth_control_hosts=["127.0.0.1"]
plinth_ssh_allow=["203.0.113.7"]
plinth_private_cidr=10.0.0.0/24
plinth_env=${env}
`,
    )
    const run = () =>
      spawnSync('ansible-playbook', ['-i', path.join(dir, 'inventory.ini'), PLAYBOOK], {
        encoding: 'utf8',
        env: { ...process.env, ANSIBLE_NOCOLOR: '1', ANSIBLE_HOST_KEY_CHECKING: 'False', ANSIBLE_LOCALHOST_WARNING: 'False' },
        timeout: 240_000,
      })
    cleanup.push(() => {
      for (const host of ['node1', 'node2']) {
        const root = path.join(dir, host, 'opt', 'plinth')
        spawnSync(path.join(root, 'plinthctl.sh'), ['stop', path.join(root, 'run', 'api.pid'), '/dev/null', '/dev/null'])
      }
      const pid = path.join(dir, 'edge', 'run', 'nginx', 'nginx.pid')
      if (existsSync(pid)) spawnSync('kill', ['-QUIT', readFileSync(pid, 'utf8').trim()])
    })

    const first = run()
    assert.equal(first.status, 0, `${first.stdout}\n${first.stderr}`)
    const firstChanged = changedCounts(first.stdout)
    assert.ok(firstChanged.node1! > 0 && firstChanged.edge! > 0, first.stdout)

    // Working nodes behind nginx: each node answers, and nginx reaches both.
    const until = Date.now() + 60_000
    for (const port of [ports.node1, ports.node2]) {
      for (;;) {
        const ok = await fetch(`http://127.0.0.1:${port}/api/ready`).then((r) => r.status === 200, () => false)
        if (ok) break
        if (Date.now() > until) throw new Error(`node on ${port} not ready; log:\n${readFileSync(path.join(dir, port === ports.node1 ? 'node1' : 'node2', 'var/lib/plinth/api.log'), 'utf8').slice(-2000)}`)
        await new Promise((r) => setTimeout(r, 200))
      }
    }
    for (let i = 0; i < 6; i++) {
      const res = await fetch(`http://127.0.0.1:${ports.edge}/api/health`)
      assert.equal(res.status, 200)
    }

    // What the roles wrote: the env file (0600), tuning and firewall with their reasons.
    const envFile = path.join(dir, 'node1', 'etc', 'plinth', 'plinth.env')
    assert.match(readFileSync(envFile, 'utf8'), /^PLINTH_TRUSTED_PROXY_HEADERS='X-Real-IP'$/m)
    assert.equal((await import('node:fs')).statSync(envFile).mode & 0o777, 0o600)
    const sysctl = readFileSync(path.join(dir, 'node1', 'etc', 'sysctl.d', '60-plinth.conf'), 'utf8')
    for (const key of ['net.core.somaxconn', 'fs.nr_open', 'net.ipv4.tcp_tw_reuse', 'net.ipv4.ip_local_port_range']) assert.match(sysctl, new RegExp(`# .*\\n(#.*\\n)*${key.replaceAll('.', '\\.')} = `))
    const nft = readFileSync(path.join(dir, 'node1', 'etc', 'nftables.d', 'plinth.nft'), 'utf8')
    assert.match(nft, new RegExp(`tcp dport ${ports.node1} ip saddr \\{ 127\\.0\\.0\\.1, 127\\.0\\.0\\.1 \\} accept`))
    assert.match(nft, /tcp dport 22 ip saddr \{ 127\.0\.0\.1, 203\.0\.113\.7 \} accept/)
    assert.match(nft, /policy drop;/)
    assert.match(readFileSync(path.join(dir, 'edge', 'etc', 'nftables.d', 'plinth.nft'), 'utf8'), new RegExp(`tcp dport \\{ 80, 443, ${ports.edge} \\} accept`))
    assert.match(readFileSync(path.join(dir, 'edge', 'etc', 'nginx', 'nginx.conf'), 'utf8'), new RegExp(`server 127\\.0\\.0\\.1:${ports.node2} max_fails`))

    const second = run()
    assert.equal(second.status, 0, `${second.stdout}\n${second.stderr}`)
    assert.deepEqual(changedCounts(second.stdout), { edge: 0, node1: 0, node2: 0 }, second.stdout)
    assert.equal((await fetch(`http://127.0.0.1:${ports.edge}/api/health`)).status, 200)
  })
})
