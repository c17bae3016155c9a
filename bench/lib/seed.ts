/**
 * Seeding bench databases through Plinth's own API: start `plinth serve` on a fresh database,
 * make a superuser with the CLI, create collections and records (batch requests of 50), stop.
 * Targets then serve the seeded database. Shared by every records-like scenario.
 */
import { spawnSync } from 'node:child_process'
import { createTestDb, engines, type EngineName, type TestDb } from '../../test/helpers/engines.ts'
import { PLINTH_BIN, ROOT, startPlinth } from './servers.ts'

/** The engines a records scenario runs on; `mysql` is MariaDB here. */
export type Engine = EngineName
export const ENGINE_LABEL: Record<Engine, string> = { sqlite: 'sqlite', postgres: 'postgres', mysql: 'mariadb' }
export const ENGINE_DRIVER: Record<Engine, string> = { sqlite: 'better-sqlite3', postgres: 'pg', mysql: 'mysql2' }
export const ENGINE_NAME: Record<Engine, string> = { sqlite: 'SQLite', postgres: 'PostgreSQL', mysql: 'MariaDB' }
export const ALL_ENGINES: readonly Engine[] = ['sqlite', 'postgres', 'mysql']

/** Plinth without per-request log lines (the health scenario shows what they cost). */
export const QUIET = { PLINTH_LOG_LEVEL: 'warn' }

export const USERS_ID = '_pb_users_auth_'

/** The fields of a user-owned text record (the feed's articles, the writes' notes). */
export const OWNED_TEXT_FIELDS = [
  { name: 'title', type: 'text' },
  { name: 'body', type: 'text' },
  { name: 'owner', type: 'relation', collectionId: USERS_ID, maxSelect: 1 },
  { name: 'created', type: 'autodate', onCreate: true },
  { name: 'updated', type: 'autodate', onCreate: true, onUpdate: true },
]
const ROOT_EMAIL = 'root@bench.local'
const ROOT_PASSWORD = 'bench-root-password'
export const USER_PASSWORD = 'bench-password'

export async function call<T>(url: string, method: string, body?: unknown, token?: string): Promise<T> {
  const res = await fetch(url, {
    method,
    headers: { 'content-type': 'application/json', ...(token ? { authorization: token } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  if (!res.ok) throw new Error(`${method} ${url}: ${res.status} ${await res.text()}`)
  return (await res.json()) as T
}

/** A running Plinth with a superuser token, for seeding. */
export interface Admin {
  url: string
  token: string
  /** `method path` as the superuser. */
  call<T>(method: string, apiPath: string, body?: unknown): Promise<T>
  /** Creates `rows` in `collection` through batch requests of 50; resolves to their ids, in order. */
  createMany(collection: string, rows: unknown[]): Promise<string[]>
}

/** A user created through the API and signed in. */
export interface User {
  id: string
  token: string
}

/** Why `engine`'s server cannot be used here, or undefined. */
export async function unavailable(engine: Engine): Promise<string | undefined> {
  const [e] = await engines([engine]).catch(() => [{ engine, skip: `${engine} is not reachable` }])
  return e?.skip || undefined
}

const made: TestDb[] = []

/** A fresh, empty database on `engine`, as a PLINTH_DB URL; `dropDatabases` removes it. */
export async function freshDb(engine: Engine): Promise<string> {
  const db = await createTestDb(engine)
  made.push(db)
  return db.url
}

/** Drops every database `freshDb` made in this run (the bench calls it once at the end). */
export async function dropDatabases(): Promise<void> {
  await Promise.all(made.splice(0).map((db) => db.drop().catch((err: Error) => process.stderr.write(`bench: could not drop ${db.url}: ${err.message}\n`))))
}

/** Makes (or updates) the bench superuser with Plinth's CLI on `dbUrl`. */
export function upsertSuperuser(dbUrl: string): void {
  const cli = spawnSync(process.execPath, [PLINTH_BIN, 'superuser', 'upsert', ROOT_EMAIL, ROOT_PASSWORD], {
    env: { ...process.env, PLINTH_DB: dbUrl },
    cwd: ROOT,
    encoding: 'utf8',
  })
  if (cli.status !== 0) throw new Error(`superuser upsert failed: ${cli.stderr}`)
}

/** Signs the bench superuser in on a running Plinth (made by `asAdmin` on the same database). */
export async function adminOn(url: string): Promise<Admin> {
  const { token } = await call<{ token: string }>(`${url}/api/collections/_superusers/auth-with-password`, 'POST', { identity: ROOT_EMAIL, password: ROOT_PASSWORD })
  const admin: Admin = {
    url,
    token,
    call: (method, apiPath, body) => call(`${url}${apiPath}`, method, body, token),
    async createMany(collection, rows) {
      const ids: string[] = []
      for (let i = 0; i < rows.length; i += 50) {
        const requests = rows.slice(i, i + 50).map((body) => ({ method: 'POST', url: `/api/collections/${collection}/records`, body }))
        const res = await admin.call<{ status: number; body: { id: string } }[]>('POST', '/api/batch', { requests })
        ids.push(...res.map((r) => r.body.id))
      }
      return ids
    },
  }
  return admin
}

/** Starts Plinth on `dbUrl`, makes the bench superuser, runs `fn` as it, stops Plinth. */
export async function asAdmin<T>(dbUrl: string, fn: (admin: Admin) => Promise<T>, env: Record<string, string> = {}): Promise<T> {
  const plinth = await startPlinth({ PLINTH_DB: dbUrl, ...QUIET, ...env })
  try {
    upsertSuperuser(dbUrl)
    return await fn(await adminOn(plinth.url))
  } finally {
    await plinth.stop()
  }
}

/** Creates `users` records (email NAME@bench.local, USER_PASSWORD) and signs the first one in. */
export async function createUsers(admin: Admin, names: string[], extra: (i: number) => object = () => ({})): Promise<{ ids: string[]; first: User }> {
  const ids = await admin.createMany(
    'users',
    names.map((n, i) => ({ email: `${n}@bench.local`, password: USER_PASSWORD, passwordConfirm: USER_PASSWORD, ...extra(i) })),
  )
  return { ids, first: await signIn(admin.url, `${names[0]}@bench.local`) }
}

export async function signIn(url: string, email: string, password = USER_PASSWORD): Promise<User> {
  const r = await call<{ token: string; record: { id: string } }>(`${url}/api/collections/users/auth-with-password`, 'POST', { identity: email, password })
  return { id: r.record.id, token: r.token }
}

/** Runs `make` once per key (a seed per engine, say) and hands every caller the same promise. */
export function once<K, V>(make: (key: K) => Promise<V>): (key: K) => Promise<V> {
  const done = new Map<K, Promise<V>>()
  return (key) => {
    let v = done.get(key)
    if (!v) done.set(key, (v = make(key)))
    return v
  }
}

/** `body` of `n` characters, so rows have a realistic size. */
export const filler = (n: number) => 'x'.repeat(n)
