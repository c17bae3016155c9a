/**
 * Orphans: stored objects no record points at (a removal that failed after its commit, a crash
 * between a commit and its clean-up, a file field dropped from a collection). Found by walking the
 * store in key order, one record at a time (`{collectionId}/{recordId}/...` keys are contiguous),
 * with one SQL read per record folder.
 *
 * Direct uploads wait under `_pending/{uploadId}/` for their confirm (at most 15 minutes): one
 * older than `minAgeMs` was never confirmed and is reported as `pending`.
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

/** The folder of direct uploads waiting for their confirm (api/direct-uploads.ts). */
export const PENDING_PREFIX = '_pending/'

/** What a clean-up removes: a file or thumb no record holds, or a direct upload never confirmed. */
export interface Orphan {
  object: StoredObject
  kind: 'orphan' | 'pending'
}

/** The keys of orphaned objects (files, thumbs, stale pending uploads), in key order. */
export async function* findOrphans(opts: OrphanOptions): AsyncGenerator<string> {
  for await (const o of findOrphanObjects(opts)) yield o.object.key
}

/**
 * Orphaned objects with their facts, in key order; `onScanned` hears of every object looked at
 * (for a progress display).
 */
export async function* findOrphanObjects(opts: OrphanOptions & { onScanned?: (o: StoredObject) => void }): AsyncGenerator<Orphan> {
  const cutoff = (opts.now ?? new Date()).getTime() - (opts.minAgeMs ?? 3_600_000)
  let folder: string | undefined
  let group: StoredObject[] = []
  const judge = async function* (objects: StoredObject[]): AsyncGenerator<Orphan> {
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
      if ((name === undefined || !kept.has(name)) && o.modified.getTime() <= cutoff) yield { object: o, kind: 'orphan' }
    }
  }
  for await (const o of opts.files.list('')) {
    opts.onScanned?.(o)
    if (o.key.startsWith(PENDING_PREFIX)) {
      if (o.modified.getTime() <= cutoff) yield { object: o, kind: 'pending' }
      continue
    }
    const parts = o.key.split('/')
    const at = parts.length >= 3 ? `${parts[0]}/${parts[1]}/` : o.key
    if (at !== folder && group.length) {
      yield* judge(group)
      group = []
    }
    folder = at
    if (parts.length < 3) {
      if (o.modified.getTime() <= cutoff) yield { object: o, kind: 'orphan' } // not in PocketBase's layout at all
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
