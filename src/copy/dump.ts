/**
 * An engine-neutral dump of a database: `manifest.json` (migrations, tables with their columns'
 * value kinds, row counts and checksums) and one `db/<table>.ndjson` per table, one JSON array of
 * neutral values (values.ts) per line. Written from any engine's snapshot, read back as a
 * `CopySource`, so a dump taken on PostgreSQL restores onto SQLite or MariaDB by the same copy
 * engine as `plinth db copy`. Backups (src/backups/) zip it with the stored files.
 */
import { createReadStream, createWriteStream, readFileSync } from 'node:fs'
import { once } from 'node:events'
import path from 'node:path'
import { createInterface } from 'node:readline'
import type { Collection } from '../records/model.ts'
import { rowToCollection, type CollectionRow } from '../records/collections/serialize.ts'
import type { CopyHooks } from './copy.ts'
import type { CopySource } from './source.ts'
import type { TablePlan } from './tables.ts'
import { TableChecksum } from './values.ts'

export const DUMP_FORMAT = 'plinth-dump/1'
export const MANIFEST = 'manifest.json'

export interface DumpTable extends TablePlan {
  rows: number
  checksum: string
}

export interface DumpManifest {
  format: typeof DUMP_FORMAT
  /** ISO time the snapshot was taken. */
  created: string
  /** The engine it was taken on (for people; restoring does not depend on it). */
  engine: string
  migrations: string[]
  tables: DumpTable[]
}

/** Where a table's rows are, inside the dump. */
export const tableFile = (name: string) => `db/${name}.ndjson`

/** Writes every table of `source` into `dir` (its `db/` folder must exist); returns the manifest (also written). */
export async function writeDump(source: CopySource, engine: string, dir: string, hooks: Pick<CopyHooks, 'onRows' | 'onTotal'> = {}): Promise<DumpManifest> {
  hooks.onTotal?.([...source.counts.values()].reduce((a, b) => a + b, 0))
  const tables: DumpTable[] = []
  for (const table of source.tables) {
    const out = createWriteStream(path.join(dir, tableFile(table.name)))
    const sum = new TableChecksum(table.columns.map((c) => c.kind))
    await source.read(table, 1000, async (rows) => {
      let chunk = ''
      for (const r of rows) {
        sum.add(r)
        chunk += JSON.stringify(r) + '\n'
      }
      if (!out.write(chunk)) await once(out, 'drain')
      hooks.onRows?.(table.name, rows.length)
    })
    out.end()
    await once(out, 'close')
    tables.push({ ...table, rows: sum.rows, checksum: sum.hex() })
  }
  const manifest: DumpManifest = { format: DUMP_FORMAT, created: new Date().toISOString(), engine, migrations: source.migrations, tables }
  const out = createWriteStream(path.join(dir, MANIFEST))
  out.end(JSON.stringify(manifest, null, 1))
  await once(out, 'close')
  return manifest
}

/** Reads a manifest, refusing anything that is not one. */
export function readManifest(dir: string): DumpManifest {
  const m = JSON.parse(readFileSync(path.join(dir, MANIFEST), 'utf8')) as DumpManifest
  if (m?.format !== DUMP_FORMAT || !Array.isArray(m.tables) || !Array.isArray(m.migrations)) throw new Error(`not a Plinth dump (expected format ${DUMP_FORMAT})`)
  return m
}

/** Streams a dump table's lines, `batch` rows at a time. */
async function readLines(file: string, batch: number, onRows: (rows: unknown[][]) => Promise<void>): Promise<void> {
  const lines = createInterface({ input: createReadStream(file), crlfDelay: Infinity })
  let rows: unknown[][] = []
  for await (const line of lines) {
    if (!line) continue
    rows.push(JSON.parse(line) as unknown[])
    if (rows.length >= batch) {
      await onRows(rows)
      rows = []
    }
  }
  if (rows.length) await onRows(rows)
}

/** A dump unpacked in `dir`, as a copy source; `checksums` are the manifest's, checked by the copy. */
export async function dumpSource(dir: string, label: string): Promise<CopySource & { manifest: DumpManifest }> {
  const manifest = readManifest(dir)
  const collectionsTable = manifest.tables.find((t) => t.name === '_collections')
  if (!collectionsTable) throw new Error('the dump has no _collections table')
  const collections: Collection[] = []
  await readLines(path.join(dir, tableFile('_collections')), 1000, async (rows) => {
    for (const r of rows) {
      const row = Object.fromEntries(collectionsTable.columns.map((c, i) => [c.name, r[i]])) as unknown as CollectionRow
      collections.push(rowToCollection(row))
    }
  })
  collections.sort((a, b) => (a.created < b.created ? -1 : a.created > b.created ? 1 : a.id < b.id ? -1 : 1))
  return {
    label,
    manifest,
    migrations: manifest.migrations,
    collections,
    tables: manifest.tables.map(({ rows: _r, checksum: _c, ...plan }) => plan),
    counts: new Map(manifest.tables.map((t) => [t.name, t.rows])),
    checksums: new Map(manifest.tables.map((t) => [t.name, t.checksum])),
    read: (table, batch, onRows) => readLines(path.join(dir, tableFile(table.name)), batch, onRows),
  }
}
