/**
 * `node --import tsx bench/db-copy.ts [--rows N] [--to postgres|mysql]` (after `node scripts/build.js --js`):
 * seeds a SQLite deployment with N records (default 1,000,000) in one collection of typical fields
 * (text, number, bool, JSON, select, date), then runs the real `plinth db copy` onto a fresh
 * PostgreSQL (or MariaDB) database under /usr/bin/time, and prints rows per second (all tables,
 * wall time of the whole command, start-up and verification included) and the command's peak RSS.
 * The database is dropped afterwards. Not part of `npm run bench`: it reports absolute figures of
 * one command, not ratios of servers under load.
 */
import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { parseDbUrl } from '../src/config/urls.ts'
import { CollectionStore } from '../src/records/collections/store.ts'
import { systemMigrations } from '../src/records/collections/migrations.ts'
import { migrate } from '../src/sql/migrate.ts'
import { openSql } from '../src/sql/open.ts'
import { createTestDb } from '../test/helpers/engines.ts'

const { values } = parseArgs({ options: { rows: { type: 'string', default: '1000000' }, to: { type: 'string', default: 'postgres' } } })
const rows = Number(values.rows)
const to = values.to === 'mysql' ? 'mysql' : 'postgres'
const dir = mkdtempSync(path.join(tmpdir(), 'plinth-bench-copy-'))
const sqliteUrl = `sqlite://${dir}/data.db`

const seedStart = Date.now()
const engine = await openSql(parseDbUrl(sqliteUrl, 'db'))
await migrate(engine, systemMigrations(engine.dialect))
const store = await CollectionStore.open(engine)
await store.create({
  name: 'items',
  fields: [
    { name: 'title', type: 'text' },
    { name: 'n', type: 'number' },
    { name: 'ok', type: 'bool' },
    { name: 'meta', type: 'json' },
    { name: 'kind', type: 'select', values: ['a', 'b', 'c'], maxSelect: 1 },
    { name: 'at', type: 'date' },
  ],
})
const BATCH = 2000
for (let i = 0; i < rows; i += BATCH) {
  const batch: Record<string, unknown>[] = []
  for (let j = i; j < Math.min(rows, i + BATCH); j++) {
    batch.push({
      id: `r${j.toString(36).padStart(14, '0')}`,
      title: `item number ${j} ${randomBytes(6).toString('hex')}`,
      n: j * 0.5,
      ok: j % 2,
      meta: JSON.stringify({ j, tags: ['x', 'y'], nested: { a: j % 7 } }),
      kind: ['a', 'b', 'c'][j % 3],
      at: '2026-01-02 03:04:05.678Z',
    })
  }
  await engine.db.transaction().execute((trx) => trx.insertInto('items').values(batch).execute())
}
await engine.close()
process.stderr.write(`seeded ${rows} records in ${((Date.now() - seedStart) / 1000).toFixed(1)} s\n`)

const target = await createTestDb(to)
try {
  const bin = path.resolve(import.meta.dirname, '../bin/plinth.js')
  const run = spawnSync('/usr/bin/time', ['-f', 'TIME %e %M', process.execPath, bin, 'db', 'copy', '--from', sqliteUrl, '--to', target.url, '--dir', dir], {
    encoding: 'utf8',
    env: { ...process.env, PLINTH_LOG_LEVEL: 'warn' },
  })
  const m = /TIME ([\d.]+) (\d+)/.exec(run.stderr)
  if (run.status !== 0 || !m) throw new Error(`db copy failed (${run.status}): ${run.stderr}`)
  const copied = Number(/: (\d+) rows in/.exec(run.stdout)?.[1] ?? rows)
  const seconds = Number(m[1])
  const rssMiB = Number(m[2]) / 1024
  process.stdout.write(`${run.stdout}db copy sqlite -> ${to}: ${copied} rows in ${seconds.toFixed(1)} s = ${Math.round(copied / seconds)} rows/s, peak RSS ${rssMiB.toFixed(0)} MiB\n`)
} finally {
  await target.drop()
  rmSync(dir, { recursive: true, force: true })
}
