/**
 * Plinth as a dependency, as a user gets it: `npm pack`, the tarball installed into an empty
 * project with no TypeScript tooling, where `npx plinth serve` answers /api/health, a plain .mjs
 * file runs `import { createPlinth } from 'plinth'`, and a .ts consumer type-checks against the
 * installed declarations (with this repository's tsc, run from outside the project).
 *
 * Slow on purpose: installing builds better-sqlite3 from source (~1-3 min on 2 cores), so
 * scripts/test.js runs this file on its own, after the others, with a longer limit. Packages come
 * from the npm cache when they are there (`--prefer-offline`), else from the registry.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { availableParallelism, tmpdir } from 'node:os'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { collect, listeningUrl, type CliResult } from '../helpers/cli.ts'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const TSC = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc')

/**
 * The environment for npm and the consumer: without the variables an enclosing `npm test` sets
 * (npm_config_local_prefix would point a nested npm at this repository) and without PLINTH_*
 * settings. npm reads its own configuration (cache, nodedir) from its rc files.
 */
function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k) && !k.startsWith('PLINTH_')))
}

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = cleanEnv()): Promise<CliResult> {
  return collect(spawn(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] }))
}

function ok(r: CliResult, what: string): CliResult {
  assert.equal(r.code, 0, `${what} failed (${r.code}):\n${r.stdout}\n${r.stderr}`)
  return r
}

describe('plinth as a dependency: npm pack, install, run', () => {
  const work = mkdtempSync(path.join(tmpdir(), 'plinth-pack-'))
  const project = path.join(work, 'consumer')
  let files: string[] = []
  after(() => rmSync(work, { recursive: true, force: true }))

  before(async () => {
    // `npm pack` runs `prepare` (scripts/build.js): the tarball holds what the sources build to now.
    const packed = ok(await run('npm', ['pack', '--json', '--pack-destination', work], ROOT), 'npm pack')
    const [info] = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('['))) as { filename: string; files: { path: string }[] }[]
    files = info!.files.map((f) => f.path)
    mkdirSync(project)
    // An empty project, as `npm init` leaves it, plus the approval npm asks for before it runs
    // better-sqlite3's build.
    writeFileSync(
      path.join(project, 'package.json'),
      JSON.stringify({ name: 'consumer', private: true, type: 'module', allowScripts: { 'better-sqlite3': true } }, null, 2),
    )
    // node-gyp compiles with every core when the machine is ours alone.
    const env = { ...cleanEnv(), JOBS: String(availableParallelism()) }
    const tarball = path.join(work, info!.filename)
    ok(await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', tarball], project, env), 'npm install of the tarball')
  })

  test('the tarball holds the built JavaScript, its declarations and the command, not the sources', () => {
    for (const f of ['package.json', 'bin/plinth.js', 'dist/index.js', 'dist/index.d.ts', 'dist/cli/main.js', 'dist/admin/index.html']) {
      assert.ok(files.includes(f), `${f} is in the tarball`)
    }
    assert.deepEqual(files.filter((f) => /^(src|test|bench|scripts)\//.test(f) || f.endsWith('.tsbuildinfo')), [])
    assert.equal(existsSync(path.join(project, 'node_modules', 'typescript')), false, 'no TypeScript compiler in the project')
  })

  /** Runs `npx plinth serve ...args` in the project until `check(url)` is done, then stops it. */
  async function npxServe(args: string[], check: (url: string) => Promise<void>): Promise<CliResult> {
    // Its own process group, so the npx wrapper and the server under it stop together.
    const child = spawn('npx', ['plinth', 'serve', '--http', '127.0.0.1:0', ...args], {
      cwd: project,
      env: cleanEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    })
    const exited = collect(child)
    try {
      await check(await listeningUrl(child, exited))
    } finally {
      process.kill(-child.pid!, 'SIGTERM')
    }
    const r = await exited
    assert.doesNotMatch(r.stderr, /plinth:/)
    return r
  }

  test('npx plinth serve starts in the project and answers /api/health', async () => {
    await npxServe(['--dir', 'data'], async (url) => {
      const res = await fetch(`${url}/api/health`)
      assert.equal(res.status, 200)
      assert.deepEqual(await res.json(), { code: 200, message: 'API is healthy.', data: {} })
    })
    assert.ok(existsSync(path.join(project, 'data', 'data.db')), 'the SQLite database is in --dir')
  })

  test("a TypeScript app module importing from 'plinth' loads under npx plinth serve", async () => {
    // tsx (a dependency of Plinth) compiles it; its ApiError is the server's own.
    writeFileSync(
      path.join(project, 'tea.app.ts'),
      `import { ApiError, type Plinth } from 'plinth'
export default (app: Plinth): void => {
  app.http.get('/api/tea', async (): Promise<never> => { throw new ApiError('bad_request', 'No tea here.') })
}
`,
    )
    await npxServe(['--dir', 'data', '--app', 'tea.app.ts'], async (url) => {
      const res = await fetch(`${url}/api/tea`)
      assert.equal(res.status, 400)
      assert.deepEqual(await res.json(), { status: 400, message: 'No tea here.', data: {} })
    })
  })

  test("a .mjs file imports createPlinth from 'plinth', adds a route and serves it", async () => {
    writeFileSync(
      path.join(project, 'main.mjs'),
      `import { createPlinth, ApiError } from 'plinth'
const app = await createPlinth({ config: { overrides: { http: '127.0.0.1:0', dir: 'lib-data', logLevel: 'silent' } } })
app.http.get('/api/tea', async () => { throw new ApiError('bad_request', 'No tea here.') })
const url = await app.start()
const health = await fetch(url + '/api/health')
const tea = await fetch(url + '/api/tea')
console.log(JSON.stringify({ health: health.status, tea: tea.status, body: await tea.json() }))
await app.stop()
`,
    )
    const r = ok(await run(process.execPath, ['main.mjs'], project), 'node main.mjs')
    // The ApiError thrown by the app is the one Plinth's error handler knows: one copy of Plinth.
    assert.deepEqual(JSON.parse(r.stdout), { health: 200, tea: 400, body: { status: 400, message: 'No tea here.', data: {} } })
  })

  test('a TypeScript consumer type-checks against the installed declarations', async () => {
    writeFileSync(
      path.join(project, 'app.ts'),
      `import { createPlinth, ApiError, type Plinth } from 'plinth'

export default function setup(app: Plinth): void {
  app.http.get<{ Params: { name: string } }>('/api/hello/:name', async (request) => {
    if (request.params.name === 'nobody') throw new ApiError('not_found', 'Nobody is here.')
    return { hello: request.params.name }
  })
  const limit: number = app.config.bodyLimit
  // @ts-expect-error the declarations are real types, not any: bodyLimit is a number
  const wrong: string = app.config.bodyLimit
  app.log.info({ limit, wrong }, 'set up')
}

export const started: Promise<Plinth> = createPlinth({ config: { overrides: { http: '127.0.0.1:0' } } })
`,
    )
    // Node's types come from this repository (the project has none installed); nothing else does.
    writeFileSync(
      path.join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2023',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          noEmit: true,
          types: ['node'],
          typeRoots: [path.join(ROOT, 'node_modules', '@types')],
        },
        files: ['app.ts'],
      }),
    )
    ok(await run(process.execPath, [TSC, '-p', project], project), 'tsc on the consumer')
  })
})
