/**
 * Every start-up failure an operator can fix is ONE line on stderr naming the key, value or
 * address at fault, with exit code 2 and no stack: the real `plinth serve` as a child process.
 * Passwords in database URLs are masked; a missing database says how to create it.
 */
import assert from 'node:assert/strict'
import { mkdtempSync } from 'node:fs'
import { createServer, type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { randomBytes } from 'node:crypto'
import { describe, test } from 'node:test'
import { runCli } from '../helpers/cli.ts'
import { engines, MYSQL_ADMIN_URL, PG_ADMIN_URL } from '../helpers/engines.ts'

function emptyDir(): string {
  return mkdtempSync(path.join(tmpdir(), 'plinth-startup-'))
}

/** A database URL on the test server with another database name and a password to be masked. */
function missingDb(adminUrl: string, name: string, password?: string): string {
  const u = new URL(adminUrl)
  u.pathname = `/${name}`
  if (password) u.password = password
  return u.toString()
}

async function expectOneLine(args: string[], env: Record<string, string>, line: RegExp): Promise<string> {
  const r = await runCli(['serve', ...args], env, emptyDir())
  assert.equal(r.code, 2, `exit code; stderr: ${r.stderr}`)
  const lines = r.stderr.trimEnd().split('\n')
  assert.equal(lines.length, 1, `one line, got:\n${r.stderr}`)
  assert.match(lines[0]!, line)
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack')
  return lines[0]!
}

describe('plinth serve: start-up errors are one line, exit 2', () => {
  test('a port out of range names the key and value', async () => {
    await expectOneLine(['--http', '127.0.0.1:99999'], {}, /^plinth: config: http: port 99999 is out of range \(0-65535\) in "127\.0\.0\.1:99999"$/)
  })

  test('a bad PLINTH_METRICS_ALLOW names the variable and the entry', async () => {
    await expectOneLine([], { PLINTH_METRICS_ALLOW: '127.0.0.1,10.0.0.0/33' }, /^plinth: config: PLINTH_METRICS_ALLOW: "10\.0\.0\.0\/33" is not an IP or CIDR/)
    await expectOneLine([], { PLINTH_METRICS_ALLOW: 'localhost' }, /^plinth: config: PLINTH_METRICS_ALLOW: "localhost" is not an IP or CIDR/)
  })

  test('an address in use names the address', async () => {
    const blocker = createServer()
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve))
    const { port } = blocker.address() as AddressInfo
    try {
      await expectOneLine(['--http', `127.0.0.1:${port}`], {}, new RegExp(`^plinth: http: address 127\\.0\\.0\\.1:${port} is already in use`))
    } finally {
      blocker.close()
    }
  })

  test('a SQLite path that cannot be created names the file', async () => {
    await expectOneLine([], { PLINTH_DB: 'sqlite:///etc/hostname/sub/data.db' }, /^plinth: db: cannot open \/etc\/hostname\/sub\/data\.db: /)
  })
})

const [pg, mysql] = await engines(['postgres', 'mysql'])

describe('plinth serve: PostgreSQL start-up errors', { skip: pg!.skip }, () => {
  test('a server that refuses the connection: the URL with its password masked', async () => {
    const line = await expectOneLine([], { PLINTH_DB: 'postgres://app:t0ps3cret@127.0.0.1:1/app' }, /^plinth: db: postgres:\/\/app:\*\*\*\*@127\.0\.0\.1:1\/app: the connection to 127\.0\.0\.1:1 was refused/)
    assert.doesNotMatch(line, /t0ps3cret/)
  })

  test('a database that does not exist: how to create it', async () => {
    const name = `plinth_missing_${randomBytes(4).toString('hex')}`
    const url = missingDb(PG_ADMIN_URL, name)
    const u = new URL(url)
    await expectOneLine([], { PLINTH_DB: url }, new RegExp(`^plinth: db: .*database "${name}" does not exist on ${u.hostname}:${u.port}; create it with: createdb -h ${u.hostname} -p ${u.port} -U ${u.username} ${name}$`))
  })
})

describe('plinth serve: MariaDB start-up errors', { skip: mysql!.skip }, () => {
  test('a server that refuses the connection: the URL with its password masked', async () => {
    const line = await expectOneLine([], { PLINTH_DB: 'mysql://app:t0ps3cret@127.0.0.1:1/app' }, /^plinth: db: mysql:\/\/app:\*\*\*\*@127\.0\.0\.1:1\/app: the connection to 127\.0\.0\.1:1 was refused/)
    assert.doesNotMatch(line, /t0ps3cret/)
  })

  test('a database that does not exist: how to create it', async () => {
    const name = `plinth_missing_${randomBytes(4).toString('hex')}`
    await expectOneLine([], { PLINTH_DB: missingDb(MYSQL_ADMIN_URL, name) }, new RegExp(`^plinth: db: .*database "${name}" does not exist on .*; create it with: mysql .*-e 'CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4'$`))
  })
})
