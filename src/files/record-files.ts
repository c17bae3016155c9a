/**
 * Files follow their records through the unit of work, PocketBase's way:
 * - a create or update stores its new uploads under `{collectionId}/{recordId}/{name}` once the row
 *   is written, inside the transaction (a store that fails fails the write); if the transaction
 *   then rolls back, they are removed again;
 * - files an update replaced or removed, and the whole folder of a deleted record (cascades
 *   too), are removed only after the commit, so a rolled-back write never loses a file.
 * It hooks in as the outermost `onRecordCreate`/`onRecordUpdate` handler and a commit listener,
 * so the records service itself knows nothing of storage. A removal that fails after the commit
 * is logged and leaves an orphan, which `findOrphans` (orphans.ts) finds later.
 */
import type { Logger } from '../log.ts'
import { isUploadedFile, type UploadedFile } from '../records/fields/index.ts'
import { toFileList } from '../records/fields/file-values.ts'
import type { RecordHooks } from '../records/hooks.ts'
import type { Collection, Field } from '../records/model.ts'
import type { RecordJson } from '../records/record.ts'
import type { RecordsService } from '../records/records-service.ts'
import type { FileStore } from './files.ts'

/** The store key of a record's file, and the prefix of that file's thumbs. */
export const fileKey = (collectionId: string, recordId: string, name: string): string => `${collectionId}/${recordId}/${name}`
export const thumbsPrefix = (collectionId: string, recordId: string, name: string): string => `${collectionId}/${recordId}/thumbs_${name}/`

export const fileFields = (c: Collection): Field[] => c.fields.filter((f) => f.type === 'file')

/** The file names a record (or a raw row) holds in field `name`. */
export function fileNames(value: unknown): string[] {
  return toFileList(value).filter((x): x is string => typeof x === 'string')
}

export interface RecordFilesOptions {
  hooks: RecordHooks
  records: RecordsService
  files: FileStore
  log: Logger
}

/** Wires storage into record writes; returns the function that unhooks the commit listener. */
export function attachRecordFiles(opts: RecordFilesOptions): () => void {
  const { hooks, records, files, log } = opts

  /** Stores the uploads of `data` that ended up in the record (one given and removed in the same body is dropped). */
  async function storeUploads(c: Collection, record: RecordJson, fields: Field[], data: Record<string, unknown>): Promise<void> {
    const tx = records.openTransaction()
    for (const f of fields) {
      const kept = new Set(fileNames(record[f.name]))
      const offered = [f.name, `+${f.name}`, `${f.name}+`].flatMap((k) => toFileList(data[k]).filter(isUploadedFile))
      for (const up of offered) {
        if (!kept.has(up.name) || up.body === undefined) continue
        const key = fileKey(c.id, record.id, up.name)
        tx?.afterRollback(() => files.delete(key))
        await files.put(key, bodyOf(up), { contentType: up.mimeType })
      }
    }
  }

  const removeFile = async (c: Collection, recordId: string, name: string) => {
    try {
      await files.delete(fileKey(c.id, recordId, name))
      await files.deletePrefix(thumbsPrefix(c.id, recordId, name))
    } catch (err) {
      log.error({ err, collection: c.name, record: recordId, file: name }, 'files: removing a replaced file failed (an orphan is left)')
    }
  }

  hooks.onRecordCreate(async (e, next) => {
    const fields = fileFields(e.collection)
    await next()
    if (fields.length && e.record) await storeUploads(e.collection, e.record, fields, e.data)
  })

  hooks.onRecordUpdate(async (e, next) => {
    const fields = fileFields(e.collection)
    if (!fields.length) return next()
    // The names before the write, read in its transaction (the row is locked by the update anyway).
    const tx = records.openTransaction()
    const before = tx && (await tx.db.selectFrom(e.collection.name).select(fields.map((f) => f.name)).where('id', '=', e.id).executeTakeFirst())
    await next()
    const after = e.record
    if (!after) return
    await storeUploads(e.collection, after, fields, e.data)
    if (!before) return
    const c = e.collection
    for (const f of fields) {
      const now = new Set(fileNames(after[f.name]))
      for (const name of fileNames(before[f.name])) {
        if (now.has(name)) continue
        if (tx) tx.afterCommit(() => removeFile(c, e.id, name))
      }
    }
  })

  return records.onCommit(async (changes) => {
    for (const ch of changes) {
      if (ch.action !== 'delete' || !fileFields(ch.collection).length) continue
      try {
        await files.deletePrefix(`${ch.collection.id}/${ch.record.id}/`)
      } catch (err) {
        log.error({ err, collection: ch.collection.name, record: ch.record.id }, 'files: removing a deleted record\'s files failed (orphans are left)')
      }
    }
  })
}

function bodyOf(up: UploadedFile): NonNullable<ReturnType<Extract<UploadedFile['body'], () => unknown>>> | Buffer {
  return typeof up.body === 'function' ? up.body() : up.body!
}
