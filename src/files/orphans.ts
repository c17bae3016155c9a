/**
 * Orphans: stored objects no record points at (a removal that failed after its commit, a crash
 * between a commit and its clean-up, a file field dropped from a collection). Found by walking the
 * store in key order, one record at a time (`{collectionId}/{recordId}/...` keys are contiguous),
 * with one SQL read per record folder.
 *
 * NB: an upload is stored inside its write's transaction, before the commit, so an object younger
 * than `minAgeMs` may belong to a write still in flight: it is never reported.
 */
import type { Kysely } from 'kysely'
import type { CollectionRegistry } from '../records/registry.ts'
import type { FileStore, StoredObject } from './files.ts'
import { fileFields, fileNames } from './record-files.ts'

export interface OrphanOptions {
  files: FileStore
  registry: CollectionRegistry
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  db: Kysely<any>
  /** Objects modified more recently than this are left alone; default one hour. */
  minAgeMs?: number
  now?: Date
}

/** The keys of orphaned objects (files and thumbs), in key order. */
export async function* findOrphans(opts: OrphanOptions): AsyncGenerator<string> {
  const cutoff = (opts.now ?? new Date()).getTime() - (opts.minAgeMs ?? 3_600_000)
  let folder: string | undefined
  let group: StoredObject[] = []
  const judge = async function* (objects: StoredObject[]): AsyncGenerator<string> {
    const [collectionId, recordId] = objects[0]!.key.split('/')
    const c = opts.registry.get(collectionId!)
    const fields = c && c.type !== 'view' ? fileFields(c) : []
    const row = fields.length
      ? ((await opts.db.selectFrom(c!.name).select(fields.map((f) => f.name)).where('id', '=', recordId!).executeTakeFirst()) as Record<string, unknown> | undefined)
      : undefined
    const kept = new Set(row ? fields.flatMap((f) => fileNames(row[f.name])) : [])
    for (const o of objects) {
      const rest = o.key.split('/').slice(2)
      // `name`, or `thumbs_name/size_name` for one of its thumbs.
      const name = rest.length === 1 ? rest[0]! : rest.length === 2 && rest[0]!.startsWith('thumbs_') ? rest[0]!.slice('thumbs_'.length) : undefined
      if ((name === undefined || !kept.has(name)) && o.modified.getTime() <= cutoff) yield o.key
    }
  }
  for await (const o of opts.files.list('')) {
    const parts = o.key.split('/')
    const at = parts.length >= 3 ? `${parts[0]}/${parts[1]}/` : o.key
    if (at !== folder && group.length) {
      yield* judge(group)
      group = []
    }
    folder = at
    if (parts.length < 3) {
      if (o.modified.getTime() <= cutoff) yield o.key // not in PocketBase's layout at all
      continue
    }
    group.push(o)
  }
  if (group.length) yield* judge(group)
}

/** Removes the orphans `findOrphans` reports; returns their keys. */
export async function removeOrphans(opts: OrphanOptions): Promise<string[]> {
  const removed: string[] = []
  for await (const key of findOrphans(opts)) {
    await opts.files.delete(key)
    removed.push(key)
  }
  return removed
}
