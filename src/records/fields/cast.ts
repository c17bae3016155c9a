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
  // NB: a Set, not `out.includes`: bodies can carry 100k ids and a quadratic scan takes minutes.
  const seen = new Set<string>()
  for (const x of list) {
    const s = toStr(x)
    if (s) seen.add(s)
  }
  return [...seen]
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

/** How deep JSON may nest (arrays and objects), in bodies and json field values. */
export const MAX_JSON_DEPTH = 64

/**
 * Whether JSON text nests arrays/objects deeper than `max`, found by one pass over the characters
 * (strings skipped), without parsing and without recursion: 100,000 `[` cost one loop, not a
 * stack overflow. Malformed text is left for the parser to reject.
 */
export function jsonTextTooDeep(text: string, max: number = MAX_JSON_DEPTH): boolean {
  let depth = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 0x5c) i++ // backslash: skip the escaped character
      else if (c === 0x22) inString = false
    } else if (c === 0x22) inString = true
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return true
    } else if (c === 0x5d || c === 0x7d) depth--
  }
  return false
}

/**
 * Walks a parsed JSON value with an explicit stack (no recursion): `deep` when arrays/objects
 * nest deeper than `max` (the walk stops there), `nul` when a string or key holds a NUL
 * character (PostgreSQL cannot store one in text or JSONB).
 */
export function inspectJsonValue(value: unknown, max: number = MAX_JSON_DEPTH): { deep: boolean; nul: boolean } {
  const stack: [unknown, number][] = [[value, 0]]
  let nul = false
  while (stack.length) {
    const [v, depth] = stack.pop()!
    if (typeof v === 'string') {
      if (v.includes('\0')) nul = true
      continue
    }
    if (v === null || typeof v !== 'object') continue
    if (depth + 1 > max) return { deep: true, nul }
    if (Array.isArray(v)) for (const x of v) stack.push([x, depth + 1])
    else
      for (const [k, x] of Object.entries(v)) {
        if (k.includes('\0')) nul = true
        stack.push([x, depth + 1])
      }
  }
  return { deep: false, nul }
}

/** Whether a string holds a NUL character (PostgreSQL refuses them in text columns). */
export const hasNul = (s: string): boolean => s.includes('\0')
