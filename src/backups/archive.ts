/**
 * A backup archive: one zip (yazl writes it as a stream, yauzl reads it) holding an engine-neutral
 * dump of the database (src/copy/dump.ts: `manifest.json` + `db/<table>.ndjson`, taken in one
 * snapshot) and every stored file under `storage/<key>`. It lives in the files port under
 * `_backups/<name>`, beside the files it holds (which it never includes itself).
 *
 * The dump is written to a temporary folder first (the snapshot is read once, at the database's
 * pace), then zipped with the stored files streamed straight from the files port into the
 * archive, which is itself streamed into the files port: no file is ever held in memory whole.
 */
import { createWriteStream } from 'node:fs'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import yauzl from 'yauzl'
import yazl from 'yazl'
import { isSafeKey, type FileStore } from '../files/files.ts'
import type { SqlEngine } from '../sql/sql.ts'
import { copyInto, CopyError, type CopyHooks, type CopyReport } from '../copy/copy.ts'
import { dumpSource, MANIFEST, tableFile, writeDump, type DumpManifest } from '../copy/dump.ts'
import { withDatabaseSource } from '../copy/source.ts'

/** Where backups are kept in the files port. */
export const BACKUPS_PREFIX = '_backups/'
/** Where stored files are kept inside an archive. */
const STORAGE = 'storage/'

async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(path.join(tmpdir(), 'plinth-backup-'))
  try {
    return await fn(dir)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

/** Every stored object's key except the backups themselves. */
async function storedKeys(files: FileStore): Promise<{ key: string; size: number; modified: Date }[]> {
  const out = []
  for await (const o of files.list('')) if (!o.key.startsWith(BACKUPS_PREFIX)) out.push({ key: o.key, size: o.size, modified: o.modified })
  return out
}

/** Creates the archive `_backups/<name>` from the database's snapshot and the stored files. */
export async function createArchive(engine: SqlEngine, files: FileStore, name: string, hooks: Pick<CopyHooks, 'onRows' | 'onTotal'> = {}): Promise<DumpManifest> {
  return withTempDir(async (dir) => {
    await mkdir(path.join(dir, 'db'))
    const manifest = await withDatabaseSource(engine, engine.name, (src) => writeDump(src, engine.name, dir, hooks))
    const objects = await storedKeys(files)
    const zip = new yazl.ZipFile()
    zip.addFile(path.join(dir, MANIFEST), MANIFEST)
    for (const t of manifest.tables) zip.addFile(path.join(dir, tableFile(t.name)), tableFile(t.name))
    for (const o of objects) {
      // Stored files are mostly compressed already (images): stored as they are, not deflated again.
      // A file deleted since it was listed (a live deployment) is stored empty rather than failing the backup.
      zip.addReadStreamLazy(`${STORAGE}${o.key}`, { compress: false, mtime: o.modified }, (cb) => {
        files.read(o.key).then(
          (found) => cb(null, found ? found.body : Readable.from([])),
          (err: unknown) => cb(err, undefined as never),
        )
      })
    }
    zip.end()
    await files.put(`${BACKUPS_PREFIX}${name}`, zip.outputStream as Readable, { contentType: 'application/zip' })
    return manifest
  })
}

/** Copies the archive out of the files port into a local file (yauzl reads a zip at random offsets). */
async function fetchArchive(files: FileStore, key: string, file: string): Promise<void> {
  const found = await files.read(`${BACKUPS_PREFIX}${key}`)
  if (!found) throw new CopyError(`backup ${key} does not exist`)
  await pipeline(found.body, createWriteStream(file))
}

/**
 * Restores `_backups/<key>` onto `engine` and `files`: the database is replaced by the dump
 * (verified table by table, like `db copy`), then every stored file (but the backups) is replaced
 * by the archive's. NB: destroys the current content; callers make sure no other node serves.
 */
export async function restoreArchive(engine: SqlEngine, files: FileStore, key: string, hooks: CopyHooks = {}): Promise<CopyReport & { files: number }> {
  return withTempDir(async (dir) => {
    const file = path.join(dir, 'backup.zip')
    await fetchArchive(files, key, file)
    const unpacked = path.join(dir, 'dump')
    await mkdir(path.join(unpacked, 'db'), { recursive: true })
    // First pass: the dump only. Nothing is touched until it is whole and its manifest reads.
    let zip = await yauzl.openPromise(file)
    try {
      for await (const entry of zip.eachEntry()) {
        const name = entry.fileName
        if (name !== MANIFEST && !/^db\/[A-Za-z0-9_]+\.ndjson$/.test(name)) continue
        await pipeline(await zip.openReadStreamPromise(entry), createWriteStream(path.join(unpacked, name)))
      }
    } finally {
      zip.close()
    }
    let source
    try {
      source = await dumpSource(unpacked, key)
    } catch (err) {
      throw new CopyError(`backup ${key} is not a Plinth backup: ${(err as Error).message}`)
    }
    const report = await copyInto(source, engine, hooks)
    // Then the stored files: the current ones go, the archive's come back.
    for (const o of await storedKeys(files)) await files.delete(o.key)
    let restored = 0
    zip = await yauzl.openPromise(file)
    try {
      for await (const entry of zip.eachEntry()) {
        if (!entry.fileName.startsWith(STORAGE) || entry.fileName.endsWith('/')) continue
        const storedKey = entry.fileName.slice(STORAGE.length)
        if (!isSafeKey(storedKey) || storedKey.startsWith(BACKUPS_PREFIX)) continue
        await files.put(storedKey, await zip.openReadStreamPromise(entry))
        restored++
      }
    } finally {
      zip.close()
    }
    return { ...report, files: restored }
  })
}
