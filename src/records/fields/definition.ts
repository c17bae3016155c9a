import type { Field, FieldType } from '../model.ts'
import { crc32Checksum } from './random.ts'

/**
 * Field definitions as submitted (any JSON) -> complete typed fields with PocketBase's defaults.
 * Unknown keys are dropped; missing options get their zero value, as Go's JSON decoding does.
 */

export const FIELD_TYPES: readonly FieldType[] = [
  'text', 'number', 'bool', 'email', 'url', 'editor', 'date', 'autodate', 'select', 'json', 'relation', 'file', 'password', 'geoPoint',
]

export function isFieldType(v: unknown): v is FieldType {
  return typeof v === 'string' && (FIELD_TYPES as readonly string[]).includes(v)
}

type Raw = Record<string, unknown>

const str = (v: unknown): string => (typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : '')
const bool = (v: unknown): boolean => v === true || v === 'true' || v === 1
const int = (v: unknown): number => {
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : 0
  return Number.isFinite(n) ? Math.trunc(n) : 0
}
const numOrNull = (v: unknown): number | null => {
  if (v === null || v === undefined || v === '') return null
  const n = typeof v === 'number' ? v : Number(v)
  return Number.isFinite(n) ? n : null
}
const strList = (v: unknown): string[] => (Array.isArray(v) ? v.map(str) : [])
const strListOrNull = (v: unknown): string[] | null => (Array.isArray(v) ? v.map(str) : null)

/** Builds a complete field of `raw.type`; undefined when the type is missing or unknown. */
export function normalizeField(raw: Raw): Field | undefined {
  const type = raw.type
  if (!isFieldType(type)) return undefined
  const base = {
    id: str(raw.id),
    name: str(raw.name),
    system: bool(raw.system),
    hidden: bool(raw.hidden),
    presentable: bool(raw.presentable),
    ...(bool(raw.sensitive) ? { sensitive: true as const } : {}),
    ...(bool(raw.encrypt) ? { encrypt: true as const } : {}),
  }
  const required = bool(raw.required)
  switch (type) {
    case 'text':
      return {
        ...base, type, required, min: int(raw.min), max: int(raw.max), pattern: str(raw.pattern),
        autogeneratePattern: str(raw.autogeneratePattern), primaryKey: bool(raw.primaryKey),
      }
    case 'number':
      return { ...base, type, required, min: numOrNull(raw.min), max: numOrNull(raw.max), onlyInt: bool(raw.onlyInt) }
    case 'bool':
      return { ...base, type, required }
    case 'email':
    case 'url':
      return { ...base, type, required, exceptDomains: strListOrNull(raw.exceptDomains), onlyDomains: strListOrNull(raw.onlyDomains) }
    case 'editor':
      return { ...base, type, required, maxSize: int(raw.maxSize), convertURLs: bool(raw.convertURLs) }
    case 'date':
      return { ...base, type, required, min: str(raw.min), max: str(raw.max) }
    case 'autodate':
      return { ...base, type, onCreate: bool(raw.onCreate), onUpdate: bool(raw.onUpdate) }
    case 'select':
      return { ...base, type, required, values: strList(raw.values), maxSelect: int(raw.maxSelect) }
    case 'json':
      return { ...base, type, required, maxSize: int(raw.maxSize) }
    case 'relation':
      return {
        ...base, type, required, collectionId: str(raw.collectionId), cascadeDelete: bool(raw.cascadeDelete),
        minSelect: int(raw.minSelect), maxSelect: int(raw.maxSelect),
      }
    case 'file':
      return {
        ...base, type, required, maxSelect: int(raw.maxSelect), maxSize: int(raw.maxSize),
        mimeTypes: strList(raw.mimeTypes), thumbs: strList(raw.thumbs), protected: bool(raw.protected),
      }
    case 'password':
      return { ...base, type, required, min: int(raw.min), max: int(raw.max), pattern: str(raw.pattern), cost: int(raw.cost) }
    case 'geoPoint':
      return { ...base, type, required }
  }
}

/**
 * Gives fields without an id PocketBase's default `type + crc32(name)` (suffixed when taken), and
 * lets a field without an id take over the id of an existing field of the same name, so that a
 * definition re-submitted without ids updates columns in place instead of dropping them.
 */
export function assignFieldIds(fields: Field[], previous: Field[] = []): void {
  const taken = new Set(fields.map((f) => f.id).filter(Boolean))
  for (const f of fields) {
    if (f.id) continue
    const same = previous.find((p) => p.name === f.name && p.type === f.type && !taken.has(p.id))
    if (same) {
      f.id = same.id
    } else {
      const base = f.type + crc32Checksum(f.name)
      let id = base
      for (let i = 2; taken.has(id) && i < 1000; i++) id = base + i
      f.id = id
    }
    taken.add(f.id)
  }
}

/** Blank field of a type (for scaffolds and tests). */
export function blankField(type: FieldType, name: string, extra: Raw = {}): Field {
  return normalizeField({ ...extra, type, name })!
}
