import { isMulti, type Collection, type Field } from '../model.ts'
import type { RecordJson } from '../record.ts'
import { toGeoPoint } from './cast.ts'

/**
 * A database row to API JSON. Drivers differ (SQLite and MariaDB return JSON as text, PostgreSQL
 * JSONB and MySQL JSON as parsed values; booleans come as 0/1 or true/false), so every value is
 * normalized here to one form per field type.
 */
export function rowToRecord(collection: Collection, row: Record<string, unknown>): RecordJson {
  const out: RecordJson = { collectionId: collection.id, collectionName: collection.name, id: String(row.id ?? '') }
  for (const f of collection.fields) out[f.name] = columnToApi(f, row[f.name])
  return out
}

function parseJsonText(v: unknown): unknown {
  if (typeof v !== 'string') return v
  try {
    return JSON.parse(v)
  } catch {
    return v // a view column holding plain text
  }
}

export function columnToApi(f: Field, v: unknown): unknown {
  if (isMulti(f)) {
    const parsed = parseJsonText(v ?? '[]')
    if (Array.isArray(parsed)) return parsed.map(String)
    return typeof parsed === 'string' && parsed !== '' ? [parsed] : []
  }
  switch (f.type) {
    case 'number': {
      const n = typeof v === 'number' ? v : Number(v ?? 0)
      return Number.isFinite(n) ? n : 0
    }
    case 'bool':
      return v === true || v === 1 || v === '1' || v === 't' || v === 'true' || (typeof v === 'bigint' && v !== 0n)
    case 'json':
      // NB: a string is JSON text on SQLite/MariaDB; PostgreSQL returns JSONB already parsed, so
      // there a JSON string value arrives as a JS string (see the lead note on pg's jsonb parser).
      return v === undefined ? null : parseJsonText(v)
    case 'geoPoint':
      return toGeoPoint(v)
    default:
      if (v === null || v === undefined) return ''
      if (typeof v === 'string') return v
      if (v instanceof Date) return v.toISOString().replace('T', ' ')
      return String(v)
  }
}
