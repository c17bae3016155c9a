/**
 * Test databases on every SQL engine. Each call makes a fresh database (PostgreSQL, MariaDB) or
 * file (SQLite), so test files never collide even when run in parallel.
 *
 * A server that does not answer skips its suites with a loud line, except under
 * PLINTH_REQUIRE_SERVICES=1 (CI), where that fails the run.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { randomBytes } from 'node:crypto'

export type EngineName = 'sqlite' | 'postgres' | 'mysql'

export const PG_ADMIN_URL = process.env.PLINTH_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/postgres'
export const MYSQL_ADMIN_URL = process.env.PLINTH_TEST_MYSQL ?? 'mysql://root@127.0.0.1:3306/test'
const requireServices = process.env.PLINTH_REQUIRE_SERVICES === '1'

export interface TestDb {
  engine: EngineName
  /** A `PLINTH_DB` URL for this database. */
  url: string
  drop(): Promise<void>
}

function uniqueName(): string {
  return `plinth_t_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`
}

function withDatabase(adminUrl: string, database: string): string {
  const u = new URL(adminUrl)
  u.pathname = `/${database}`
  return u.toString()
}

async function pgAdmin<T>(fn: (q: (text: string) => Promise<unknown>) => Promise<T>): Promise<T> {
  const { default: pg } = await import('pg')
  const client = new pg.Client({ connectionString: PG_ADMIN_URL, connectionTimeoutMillis: 3000 })
  await client.connect()
  try {
    return await fn((text) => client.query(text))
  } finally {
    await client.end()
  }
}

async function mysqlAdmin<T>(fn: (q: (text: string) => Promise<unknown>) => Promise<T>): Promise<T> {
  const { createConnection } = await import('mysql2/promise')
  const conn = await createConnection({ uri: MYSQL_ADMIN_URL, connectTimeout: 3000 })
  try {
    return await fn((text) => conn.query(text))
  } finally {
    await conn.end()
  }
}

/** Creates an empty database on `engine`. */
export async function createTestDb(engine: EngineName): Promise<TestDb> {
  const name = uniqueName()
  switch (engine) {
    case 'sqlite': {
      const dir = mkdtempSync(path.join(tmpdir(), 'plinth-test-'))
      return { engine, url: `sqlite://${dir}/data.db`, drop: async () => rmSync(dir, { recursive: true, force: true }) }
    }
    case 'postgres':
      await pgAdmin((q) => q(`CREATE DATABASE ${name}`))
      return {
        engine,
        url: withDatabase(PG_ADMIN_URL, name),
        drop: () => pgAdmin((q) => q(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => undefined),
      }
    case 'mysql':
      await mysqlAdmin((q) => q(`CREATE DATABASE ${name} CHARACTER SET utf8mb4`))
      return {
        engine,
        url: withDatabase(MYSQL_ADMIN_URL, name),
        drop: () => mysqlAdmin((q) => q(`DROP DATABASE IF EXISTS ${name}`)).then(() => undefined),
      }
  }
}

const probes = new Map<EngineName, Promise<string | undefined>>()

/** Undefined when the engine's server answers; otherwise why not. */
function probe(engine: EngineName): Promise<string | undefined> {
  let p = probes.get(engine)
  if (!p) {
    const run = async () => {
      if (engine === 'sqlite') return undefined
      try {
        if (engine === 'postgres') await pgAdmin((q) => q('select 1'))
        else await mysqlAdmin((q) => q('select 1'))
        return undefined
      } catch (err) {
        return `${engine} unreachable at ${engine === 'postgres' ? PG_ADMIN_URL : MYSQL_ADMIN_URL}: ${(err as Error).message}`
      }
    }
    p = run()
    probes.set(engine, p)
  }
  return p
}

export interface EngineCase {
  engine: EngineName
  /** A skip reason for node:test, or false when the engine is available. */
  skip: string | false
}

/**
 * The engines to run a suite over, probed once. Use with top-level await:
 * `for (const { engine, skip } of await engines()) describe(engine, { skip }, ...)`.
 */
export async function engines(only: EngineName[] = ['sqlite', 'postgres', 'mysql']): Promise<EngineCase[]> {
  const out: EngineCase[] = []
  for (const engine of only) {
    const why = await probe(engine)
    if (why && requireServices) throw new Error(`PLINTH_REQUIRE_SERVICES=1 but ${why}`)
    if (why) process.stderr.write(`\n!!! SKIPPING ${engine} suites: ${why}\n!!! run scripts/services.sh to start it\n\n`)
    out.push({ engine, skip: why ?? false })
  }
  return out
}
