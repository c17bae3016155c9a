/**
 * The real `plinth serve` as a child process on a real port: starts on an empty folder, answers
 * /api/health and /api/ready, loads a TypeScript app module without a build step, and on SIGTERM
 * finishes in-flight requests, closes its engines and exits 0. On every SQL engine.
 */
import assert from 'node:assert/strict'
import type { ChildProcess } from 'node:child_process'
import { createServer, type AddressInfo, type Socket } from 'node:net'
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { collect, startCli, startServe, type ServeProcess } from '../helpers/cli.ts'
import { createTestDb, engines, type TestDb } from '../helpers/engines.ts'

const SRC_INDEX = fileURLToPath(new URL('../../src/index.ts', import.meta.url))

type Server = ServeProcess

/** `plinth serve` on a free port, checked to answer /api/health 200 at once. */
async function serve(args: string[], env: Record<string, string>, cwd: string): Promise<Server> {
  const server = await startServe(args, env, cwd)
  // The listening line is logged after listen() returned: the server answers from now on.
  const health = await fetch(`${server.url}/api/health`)
  if (health.status !== 200) throw new Error(`/api/health answered ${health.status} right after the listening line`)
  return server
}

/** A TCP server the app module's route connects to; the test releases the route by writing to it. */
async function openLatch(): Promise<{ port: number; connected: Promise<Socket>; close(): void }> {
  const sockets: Socket[] = []
  let onConnect!: (s: Socket) => void
  const connected = new Promise<Socket>((resolve) => (onConnect = resolve))
  const server = createServer((socket) => {
    sockets.push(socket)
    onConnect(socket)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as AddressInfo).port,
    connected,
    close() {
      for (const s of sockets) s.destroy()
      server.close()
    },
  }
}

/** Resolves when the child has printed `text` (on stdout), or rejects if it exits first. */
function waitForOutput(child: ChildProcess, text: string): Promise<void> {
  let seen = ''
  return new Promise((resolve, reject) => {
    const onData = (d: Buffer) => {
      seen += d.toString()
      if (seen.includes(text)) {
        child.stdout!.off('data', onData)
        resolve()
      }
    }
    child.stdout!.on('data', onData)
    child.once('exit', () => reject(new Error(`exited before printing ${text}:\n${seen}`)))
  })
}

function emptyDir(): string {
  return mkdtempSync(path.join(tmpdir(), 'plinth-e2e-'))
}

/** Log lines (JSON) printed by the child. */
function logLines(stdout: string): Record<string, unknown>[] {
  return stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>)
}

for (const { engine, skip } of await engines()) {
  describe(`plinth serve: ${engine}`, { skip }, () => {
    const dbs: TestDb[] = []
    after(async () => {
      for (const db of dbs) await db.drop()
    })
    async function dbEnv(): Promise<Record<string, string>> {
      if (engine === 'sqlite') return {} // the embedded default: ./plinth_data/data.db
      const db = await createTestDb(engine)
      dbs.push(db)
      return { PLINTH_DB: db.url }
    }

    test('starts on an empty folder, answers health and ready, stops on SIGTERM with exit 0', async () => {
      const cwd = emptyDir()
      const server = await serve([], await dbEnv(), cwd)
      const health = await fetch(`${server.url}/api/health`)
      assert.deepEqual(await health.json(), { code: 200, message: 'API is healthy.', data: {} })
      const ready = await fetch(`${server.url}/api/ready`)
      assert.equal(ready.status, 200)
      server.child.kill('SIGTERM')
      const r = await server.exited
      assert.equal(r.signal, null)
      assert.equal(r.code, 0, r.stderr)
      assert.equal(r.stderr, '')
      const msgs = logLines(r.stdout).map((l) => l.msg)
      const stopping = msgs.indexOf('stopping: finishing in-flight requests')
      assert.ok(stopping >= 0 && msgs.indexOf('stopped') > stopping, msgs.join(' | '))
      const started = logLines(r.stdout).find((l) => typeof l.engine === 'string' && l.url)
      assert.equal(started?.engine, engine)
      if (engine === 'sqlite') assert.ok(existsSync(path.join(cwd, 'plinth_data', 'data.db')), readdirSync(cwd).join(','))
    })

    test('a TypeScript app module adds a route before listening; SIGTERM lets an in-flight request finish', async () => {
      const cwd = emptyDir()
      writeFileSync(path.join(cwd, 'package.json'), '{"type":"module"}\n')
      // Found by its default name; TypeScript syntax (types, `satisfies`) with no build step.
      // `/api/slow` connects to the test's latch and answers only when the test writes to it, so
      // the request is provably still running when SIGTERM arrives.
      writeFileSync(
        path.join(cwd, 'plinth.app.ts'),
        `import { connect } from 'node:net'
import type { Plinth } from ${JSON.stringify(SRC_INDEX)}
interface Hello { hello: string; engine: string }
export default async function setup(app: Plinth): Promise<void> {
  app.http.get('/api/hello', async () => ({ hello: 'world', engine: app.sql.primary.name }) satisfies Hello)
  app.http.get('/api/slow', async () => {
    await new Promise<void>((resolve, reject) => {
      const latch = connect(Number(process.env.DRAIN_LATCH_PORT), '127.0.0.1')
      latch.once('data', () => (latch.end(), resolve()))
      latch.once('error', reject)
    })
    return { done: true }
  })
}
`,
      )
      const latch = await openLatch()
      try {
        const server = await serve(['--dir', 'data'], { ...(await dbEnv()), DRAIN_LATCH_PORT: String(latch.port) }, cwd)
        const hello = await fetch(`${server.url}/api/hello`)
        assert.deepEqual(await hello.json(), { hello: 'world', engine })

        const stopping = waitForOutput(server.child, 'stopping: finishing in-flight requests')
        let answered = false
        const slow = fetch(`${server.url}/api/slow`).then((res) => ((answered = true), res))
        const held = await latch.connected // the handler is running and waits for the latch
        server.child.kill('SIGTERM')
        await stopping // the signal was handled while the request was held
        assert.equal(answered, false, 'the request was still in flight when SIGTERM was handled')
        held.write('go')
        const res = await slow
        assert.equal(res.status, 200)
        assert.deepEqual(await res.json(), { done: true })
        const r = await server.exited
        assert.equal(r.code, 0, r.stderr)
        const msgs = logLines(r.stdout).map((l) => l.msg)
        assert.ok(msgs.indexOf('stopped') > msgs.indexOf('stopping: finishing in-flight requests'), msgs.join(' | '))
        if (engine === 'sqlite') assert.ok(existsSync(path.join(cwd, 'data', 'data.db')), '--dir is used')
      } finally {
        latch.close()
      }
    })
  })
}

describe('plinth serve --http :PORT', () => {
  test('listens on every interface and prints a URL that works, not http://:PORT', async () => {
    const child = startCli(['serve', '--http', ':0', '--dir', 'd'], {}, emptyDir())
    const exited = collect(child)
    let out = ''
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString()
        const m = /"url":"([^"]*)"/.exec(out)
        if (m) resolve(m[1]!)
      })
      void exited.then((r) => reject(new Error(`plinth exited early (${r.code}):\n${r.stdout}\n${r.stderr}`)))
    })
    try {
      assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/)
      const res = await fetch(`${url}/api/health`)
      assert.equal(res.status, 200)
    } finally {
      child.kill('SIGTERM')
    }
    assert.equal((await exited).code, 0)
  })
})

describe('plinth serve: stopping is bounded', () => {
  test('a request that never finishes is cut after shutdownTimeout and the process still exits 0', async () => {
    const cwd = emptyDir()
    writeFileSync(
      path.join(cwd, 'hang.mts'),
      // The route connects to the test's latch, so the test knows it is running, and never answers.
      `import { connect } from 'node:net'
export default (app: { http: { get(url: string, h: () => Promise<unknown>): void } }): void => {
  app.http.get('/api/hang', () => new Promise(() => void connect(Number(process.env.HANG_LATCH_PORT), '127.0.0.1')))
}
`,
    )
    const latch = await openLatch()
    try {
      const server = await serve(['--app', 'hang.mts', '--dir', 'd'], { PLINTH_SHUTDOWN_TIMEOUT: '200', HANG_LATCH_PORT: String(latch.port) }, cwd)
      const hanging = fetch(`${server.url}/api/hang`).then(
        (r) => r.status,
        () => 'cut',
      )
      await latch.connected // the request is in flight and will never finish on its own
      server.child.kill('SIGTERM')
      const r = await server.exited
      assert.equal(r.code, 0, r.stderr)
      assert.equal(await hanging, 'cut')
    } finally {
      latch.close()
    }
  })

  test('an app module that would load as CommonJS stops start-up with one line saying how to fix it', async () => {
    const cwd = emptyDir()
    writeFileSync(path.join(cwd, 'plinth.app.ts'), 'export default (): void => {}\n')
    const r = await collect(startCli(['serve', '--http', '127.0.0.1:0'], {}, cwd))
    assert.equal(r.code, 2)
    assert.match(r.stderr, /^plinth: app: plinth\.app\.ts would load as CommonJS: add "type": "module" .* or rename it plinth\.app\.mts\n$/)
  })

  test('an app module that is not a function stops start-up with one line', async () => {
    const cwd = emptyDir()
    writeFileSync(path.join(cwd, 'plinth.app.mjs'), 'export default 42\n')
    const r = await collect(startCli(['serve', '--http', '127.0.0.1:0'], {}, cwd))
    assert.equal(r.code, 2)
    assert.match(r.stderr, /^plinth: app: plinth\.app\.mjs must export a default function/)
    assert.equal(r.stderr.trimEnd().split('\n').length, 1)
  })
})
