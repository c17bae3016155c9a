/**
 * What a test of several `plinth serve` processes shares: a fresh PostgreSQL database, a Redis key
 * prefix of its own (`PLINTH_REDIS`), a working folder and a superuser made with the CLI. Each
 * step's undoing goes onto `cleanup`, which the test runs in reverse order.
 */
import assert from 'node:assert/strict'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { runCli } from './cli.ts'
import { createTestDb } from './engines.ts'
import { adminRedis, deleteKeys, REDIS_TEST_URL, testPrefix } from './redis.ts'

/** A fresh PostgreSQL database and a Redis URL with a key prefix of its own, both undone by `cleanup`. */
export async function sharedDbAndRedis(cleanup: (() => Promise<unknown>)[]): Promise<{ db: string; redis: string }> {
  const db = await createTestDb('postgres')
  cleanup.push(() => db.drop())
  const prefix = testPrefix()
  cleanup.push(async () => {
    const admin = await adminRedis()
    await deleteKeys(admin, prefix)
    await admin.quit()
  })
  const redis = new URL(REDIS_TEST_URL)
  redis.searchParams.set('prefix', prefix)
  return { db: db.url, redis: redis.toString() }
}

export async function clusterSetup(cleanup: (() => Promise<unknown>)[], name: string): Promise<{ env: Record<string, string>; cwd: string }> {
  const shared = await sharedDbAndRedis(cleanup)
  const env = { PLINTH_DB: shared.db, PLINTH_REDIS: shared.redis }
  const cwd = mkdtempSync(path.join(tmpdir(), `${name}-`))
  const su = await runCli(['superuser', 'upsert', 'root@example.com', 'a-long-password'], env, cwd)
  assert.equal(su.code, 0, su.stderr)
  return { env, cwd }
}

/** Signs in a superuser over HTTP (by default the one `clusterSetup` makes) and returns the token. */
export async function superuserToken(url: string, identity = 'root@example.com', password = 'a-long-password'): Promise<string> {
  const res = await fetch(`${url}/api/collections/_superusers/auth-with-password`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ identity, password }),
  })
  assert.equal(res.status, 200, await res.clone().text())
  return ((await res.json()) as { token: string }).token
}
