/**
 * Loose conversions of submitted values, matching the Go `cast` package PocketBase uses, so that
 * multipart strings and JSON values are read the same way PocketBase reads them.
 */

export function toStr(v: unknown): string {
  if (typeof v === 'string') return v
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : ''
  if (typeof v === 'boolean') return v ? 'true' : 'false'
  return ''
}

export function toNumber(v: unknown): number {
  if (typeof v === 'number') return v
  if (typeof v === 'boolean') return v ? 1 : 0
  if (typeof v === 'string' && v.trim() !== '') {
    const n = Number(v.trim())
    return Number.isNaN(n) ? 0 : n
  }
  return 0
}

const TRUE = ['1', 't', 'T', 'TRUE', 'true', 'True']

export function toBool(v: unknown): boolean {
  if (typeof v === 'boolean') return v
  if (typeof v === 'number') return v !== 0
  if (typeof v === 'string') return TRUE.includes(v.trim())
  return false
}

/** Unique non-empty strings; a string holding a JSON array is read as that array. */
export function toUniqueStrings(v: unknown): string[] {
  let list: unknown[] = []
  if (Array.isArray(v)) list = v
  else if (typeof v === 'string') {
    if (v === '') list = []
    else if (v.includes('[')) {
      try {
        const parsed: unknown = JSON.parse(v)
        list = Array.isArray(parsed) ? parsed : [v]
      } catch {
        list = [v]
      }
    } else list = [v]
  } else if (v !== null && v !== undefined) list = [v]
  const out: string[] = []
  for (const x of list) {
    const s = toStr(x)
    if (s && !out.includes(s)) out.push(s)
  }
  return out
}

/**
 * A date in PocketBase's form (`YYYY-MM-DD HH:MM:SS.sssZ`, UTC), or '' when the value is empty or
 * not a date (as PocketBase, which then reports `validation_required` only if the field is required).
 * Numbers are Unix seconds.
 */
export function toDate(v: unknown): string {
  let d: Date | undefined
  if (v instanceof Date) d = v
  else if (typeof v === 'number' && Number.isFinite(v)) d = new Date(v * 1000)
  else if (typeof v === 'string' && v.trim() !== '') {
    let s = v.trim()
    if (/^\d{4}-\d{2}-\d{2} \d/.test(s)) s = s.replace(' ', 'T')
    if (/^\d{4}-\d{2}-\d{2}$/.test(s)) s += 'T00:00:00Z'
    else if (/T\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(s)) s += 'Z' // no zone given: UTC, as PocketBase reads it
    const t = Date.parse(s)
    if (!Number.isNaN(t)) d = new Date(t)
  }
  if (!d || Number.isNaN(d.getTime())) return ''
  return d.toISOString().replace('T', ' ')
}

/**
 * A json field's submitted value, PocketBase's way: a string that is itself JSON (a number,
 * `"..."`, `[...]`, `{...}`, `null`, `true`, `false`) is taken as that JSON; any other string is a
 * JSON string. Returns the JSON text, or undefined for "no value".
 */
export function toJsonText(v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined
  if (typeof v === 'string') {
    if (v === '') return '""'
    if (v === 'null' || v === 'true' || v === 'false') return v
    if (/^[0-9\-"[{]/.test(v)) {
      try {
        JSON.parse(v)
        return v
      } catch {
        // not JSON: store as a string
      }
    }
    return JSON.stringify(v)
  }
  return JSON.stringify(v) ?? undefined
}

export interface GeoPoint {
  lon: number
  lat: number
}

/**
 * A geoPoint's value, PocketBase's way: an object (or its JSON text) with numeric `lon` and `lat`;
 * anything unreadable is the zero point, as PocketBase ignores a value it cannot scan.
 */
export function toGeoPoint(v: unknown): GeoPoint {
  let o = v
  if (typeof o === 'string') {
    try {
      o = o === '' ? {} : JSON.parse(o)
    } catch {
      o = {}
    }
  }
  const rec = o !== null && typeof o === 'object' && !Array.isArray(o) ? (o as Record<string, unknown>) : {}
  const num = (x: unknown) => (typeof x === 'number' && Number.isFinite(x) ? x : 0)
  return { lon: num(rec.lon), lat: num(rec.lat) }
}
