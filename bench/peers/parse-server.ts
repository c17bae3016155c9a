/**
 * Parse Server 9 on PostgreSQL: the peer users would otherwise pick, run beside Plinth in the
 * same bench run. It is NOT a project dependency: the first run installs it into
 * bench/.peers/parse (gitignored) with npm, then starts it as a child process.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const PEER_DIR = fileURLToPath(new URL('../.peers/parse/', import.meta.url))
const VERSION = '9'

/** Installs Parse Server into bench/.peers/parse once; later runs reuse it. */
export function installParseServer(): void {
  if (existsSync(path.join(PEER_DIR, 'node_modules/parse-server/package.json'))) return
  mkdirSync(PEER_DIR, { recursive: true })
  writeFileSync(path.join(PEER_DIR, 'package.json'), JSON.stringify({ name: 'parse-peer', private: true }))
  process.stderr.write(`installing parse-server@${VERSION} into ${PEER_DIR} (first run only)...\n`)
  const r = spawnSync('npm', ['install', '--no-fund', '--no-audit', '--loglevel=error', `parse-server@${VERSION}`, 'express@5'], {
    cwd: PEER_DIR,
    stdio: ['ignore', 'inherit', 'inherit'],
  })
  if (r.status !== 0) throw new Error('npm install parse-server failed')
}

const serverScript = `
import express from 'express'
import { ParseServer } from 'parse-server'
const [databaseURI, port] = process.argv.slice(2)
const server = new ParseServer({
  databaseURI, appId: 'bench', masterKey: 'bench-master-key', serverURL: 'http://127.0.0.1:' + port + '/parse',
  logLevel: 'error', allowClientClassCreation: true, masterKeyIps: ['127.0.0.1', '::1'],
})
await server.start()
const app = express()
app.use('/parse', server.app)
app.listen(Number(port), '127.0.0.1', () => process.stdout.write('ready\\n'))
`

export interface ParsePeer {
  url: string
  /** Headers for an authenticated request as the seeded user. */
  headers: Record<string, string>
  /** The id of an object only the seeded user may read (ACL), for the view scenario. */
  objectId: string
  stop(): Promise<void>
}

async function call(url: string, method: string, body: unknown, headers: Record<string, string>): Promise<Record<string, unknown>> {
  const res = await fetch(url, {
    method,
    headers: { 'X-Parse-Application-Id': 'bench', 'Content-Type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  const json = (await res.json()) as Record<string, unknown>
  if (!res.ok) throw new Error(`parse ${method} ${url}: ${res.status} ${JSON.stringify(json)}`)
  return json
}

/** Starts Parse Server on `databaseUrl` (an empty PostgreSQL database) and seeds one user and one owner-only object. */
export async function startParsePeer(databaseUrl: string, port: number): Promise<ParsePeer> {
  installParseServer()
  const script = path.join(PEER_DIR, 'server.mjs')
  writeFileSync(script, serverScript)
  const child: ChildProcess = spawn(process.execPath, [script, databaseUrl, String(port)], {
    cwd: PEER_DIR,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stderr = ''
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()))
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`parse-server did not start: ${stderr.slice(-500)}`)), 60_000)
    child.stdout?.on('data', (d: Buffer) => {
      if (d.toString().includes('ready')) {
        clearTimeout(timer)
        resolve()
      }
    })
    child.on('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`parse-server exited with ${code}: ${stderr.slice(-500)}`))
    })
  })
  const url = `http://127.0.0.1:${port}/parse`
  await call(`${url}/users`, 'POST', { username: 'bench', password: 'bench-password' }, {})
  const login = await call(`${url}/login`, 'POST', { username: 'bench', password: 'bench-password' }, {})
  const headers = { 'X-Parse-Application-Id': 'bench', 'X-Parse-Session-Token': String(login.sessionToken) }
  const acl = { [String(login.objectId)]: { read: true, write: true } }
  const created = await call(`${url}/classes/Post`, 'POST', { title: 'hello', body: 'x'.repeat(200), ACL: acl }, headers)
  return {
    url,
    headers,
    objectId: String(created.objectId),
    async stop() {
      child.kill('SIGTERM')
      await new Promise((r) => child.once('exit', r))
    },
  }
}
