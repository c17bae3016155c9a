/**
 * The records API's CDN extension: when `cdn.baseUrl` is set, each record in a response also
 * carries `"@files"`, mapping its non-protected file fields to signed CDN URLs (a string for a
 * single file field, an array for a multi-file one). The file fields themselves stay file names,
 * as in PocketBase, so SDKs keep working. Field names are `\w+`, so `@files` never collides.
 * Protected fields never get a URL: they are served by this server with a file token.
 */
import type { PlinthConfig } from '../../config/schema.ts'
import { isMulti, type Collection } from '../../records/model.ts'
import type { RecordJson } from '../../records/record.ts'
import { cdnUrl } from './cdn.ts'

export const CDN_URLS_KEY = '@files'

export type CdnSettings = Pick<PlinthConfig, 'cdn'>

/** How records' collections are found (for expanded records): the collection registry. */
export interface CollectionLookup {
  get(idOrName: string): Collection | undefined
}

const names = (value: unknown): string[] => (Array.isArray(value) ? value : [value]).filter((x): x is string => typeof x === 'string' && x !== '')

/**
 * Adds `@files` to `records` (of `collection`) and to every record under their `expand`, in
 * place. Does nothing when no CDN is configured. View collections are left alone: their files
 * live under the source collection's records.
 */
export function addCdnUrls(config: CdnSettings, lookup: CollectionLookup, collection: Collection, records: RecordJson[], now = Date.now()): void {
  if (!config.cdn.baseUrl) return
  for (const record of records) addTo(config, lookup, collection, record, now, 0)
}

function addTo(config: CdnSettings, lookup: CollectionLookup, c: Collection, record: RecordJson, now: number, depth: number): void {
  if (c.type !== 'view') {
    const urls: Record<string, string | string[]> = {}
    for (const f of c.fields) {
      if (f.type !== 'file' || f.protected || !(f.name in record)) continue
      const list = names(record[f.name]).map((n) => cdnUrl(config, `${c.id}/${record.id}/${n}`, now)!)
      urls[f.name] = isMulti(f) ? list : (list[0] ?? '')
    }
    if (Object.keys(urls).length > 0) (record as Record<string, unknown>)[CDN_URLS_KEY] = urls
  }
  // PocketBase expands at most 6 levels; the bound keeps a malformed tree from looping.
  const expand = record.expand
  if (depth > 8 || !expand || typeof expand !== 'object') return
  for (const value of Object.values(expand as Record<string, unknown>)) {
    for (const child of Array.isArray(value) ? value : [value]) {
      if (!child || typeof child !== 'object') continue
      const target = lookup.get(String((child as RecordJson).collectionId))
      if (target) addTo(config, lookup, target, child as RecordJson, now, depth + 1)
    }
  }
}
