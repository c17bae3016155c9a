/**
 * Files of view collections, PocketBase's way: a view's file column is a copy of a source
 * collection's file field, so its files are stored under the source record. The files API finds
 * that record by the file's name (unique: stored names carry a random suffix), following views of
 * views, as PocketBase's FindRecordByViewFile does. Rules stay the view's: the record must be in
 * the view, and a protected field is judged by the view collection's view rule.
 */
import { viewColumnSource } from '../records/collections/view-query.ts'
import { isMulti, type Collection } from '../records/model.ts'
import { systemRequest } from '../records/record.ts'
import type { RecordsService } from '../records/records-service.ts'
import type { CollectionRegistry } from '../records/registry.ts'

/** Views over views are followed this deep at most. */
const MAX_DEPTH = 5

/** Where the file `filename` of the view's column `field` is stored: its source collection and record. */
export async function findViewFileSource(
  deps: { registry: CollectionRegistry; records: RecordsService },
  view: Collection,
  field: string,
  filename: string,
  depth = 0,
): Promise<{ collection: Collection; recordId: string } | undefined> {
  // Stored names are [a-z0-9_.-]; anything else never names a stored file (and stays out of the filter).
  if (depth > MAX_DEPTH || view.type !== 'view' || !view.viewQuery || !/^[\w.-]+$/.test(filename)) return undefined
  const source = viewColumnSource(view.viewQuery, field, (name) => deps.registry.get(name))
  if (!source || source.field.type !== 'file') return undefined
  if (source.collection.type === 'view') return findViewFileSource(deps, source.collection, source.field.name, filename, depth + 1)
  const filter = `${source.field.name} ${isMulti(source.field) ? '?=' : '='} "${filename}"`
  const found = await deps.records.list(source.collection.id, { filter, perPage: 1, skipTotal: true }, systemRequest('file'))
  const record = found.items[0]
  return record ? { collection: source.collection, recordId: record.id } : undefined
}
