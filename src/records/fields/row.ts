import { isMulti, type Collection, type Field } from '../model.ts'
import type { RecordJson } from '../record.ts'
import { toGeoPoint } from './cast.ts'
import { columnOpener } from './at-rest.ts'

/** Turns one column value, as the driver returns it, into the field's API value. */
export type FieldDecoder = (v: unknown) => unknown

/** Turns a row into API JSON. */
export type RowDecoder = (row: Record<string, unknown>) => RecordJson

const decoders = new WeakMap<Collection, RowDecoder>()

/**
 * A database row to API JSON. Drivers differ (SQLite and MariaDB return JSON as text, PostgreSQL
 * JSONB and MySQL JSON as parsed values; booleans come as 0/1 or true/false), so every value is
 * normalized here to one form per field type. The decoder is built once per frozen collection
 * object, i.e. once per schema version (see `rowDecoder`).
 */
export function rowToRecord(collection: Collection, row: Record<string, unknown>): RecordJson {
  return rowDecoder(collection)(row)
}

/**
 * The row decoder of `collection`, with each field's decoder chosen once. Cached for a frozen
 * collection (the store's); NB: an unfrozen one may still change, so it gets a fresh decoder each time.
 */
export function rowDecoder(collection: Collection): RowDecoder {
  const hit = decoders.get(collection)
  if (hit) return hit
  const { id: collectionId, name: collectionName } = collection
  const fields = collection.fields.map((f) => [f.name, fieldDecoder(f)] as const)
  // Fields encrypted at rest are opened first (at-rest.ts), with the record id they are bound to.
  const openers = collection.fields.map((f) => (f.encrypt ? columnOpener(collection, f) : undefined))
  const decode: RowDecoder = openers.some(Boolean)
    ? (row) => {
        const id = String(row.id ?? '')
        const out: RecordJson = { collectionId, collectionName, id }
        for (const [i, [name, decodeField]] of fields.entries()) {
          const open = openers[i]
          out[name] = decodeField(open ? open(row[name], id) : row[name])
        }
        return out
      }
    : (row) => {
        const out: RecordJson = { collectionId, collectionName, id: String(row.id ?? '') }
        for (const [name, decodeField] of fields) out[name] = decodeField(row[name])
        return out
      }
  if (Object.isFrozen(collection) && Object.isFrozen(collection.fields)) decoders.set(collection, decode)
  return decode
}

function parseJsonText(v: unknown): unknown {
  if (typeof v !== 'string') return v
  try {
    return JSON.parse(v)
  } catch {
    return v // a view column holding plain text
  }
}

/** One column value to the field's API value (see `fieldDecoder`). */
export function columnToApi(f: Field, v: unknown): unknown {
  return fieldDecoder(f)(v)
}

const decodeMulti: FieldDecoder = (v) => {
  const parsed = parseJsonText(v ?? '[]')
  if (Array.isArray(parsed)) return parsed.map(String)
  return typeof parsed === 'string' && parsed !== '' ? [parsed] : []
}

const decodeNumber: FieldDecoder = (v) => {
  const n = typeof v === 'number' ? v : Number(v ?? 0)
  return Number.isFinite(n) ? n : 0
}

const decodeBool: FieldDecoder = (v) => v === true || v === 1 || v === '1' || v === 't' || v === 'true' || (typeof v === 'bigint' && v !== 0n)

// NB: a string is JSON text on SQLite/MariaDB; PostgreSQL returns JSONB already parsed, so
// there a JSON string value arrives as a JS string (see the lead note on pg's jsonb parser).
const decodeJson: FieldDecoder = (v) => (v === undefined ? null : parseJsonText(v))

const decodeText: FieldDecoder = (v) => {
  if (v === null || v === undefined) return ''
  if (typeof v === 'string') return v
  if (v instanceof Date) return v.toISOString().replace('T', ' ')
  return String(v)
}

/** The decoder for one field, chosen by its type (and whether it holds several values). */
export function fieldDecoder(f: Field): FieldDecoder {
  if (isMulti(f)) return decodeMulti
  switch (f.type) {
    case 'number':
      return decodeNumber
    case 'bool':
      return decodeBool
    case 'json':
      return decodeJson
    case 'geoPoint':
      return toGeoPoint
    default:
      return decodeText
  }
}
