import type { Readable } from 'node:stream'

/**
 * A new upload offered to a file field. The records API stores the bytes under `name` (the unique
 * stored file name it chose) and passes this object as the field's value (or with `field+`);
 * plain strings in a file field's value are names of files the record already has.
 */
export interface UploadedFile {
  /** The stored file name (what the column keeps). */
  name: string
  /** The client's file name, for error messages. */
  originalName: string
  size: number
  /** The detected MIME type. */
  mimeType: string
  /**
   * The bytes, stored under the record once its row is written (the API gives a temp file's
   * reader; app code may give a Buffer). Without it only the name is kept (tests of validation).
   */
  body?: Buffer | (() => Readable)
}

export function isUploadedFile(v: unknown): v is UploadedFile {
  if (typeof v !== 'object' || v === null) return false
  const o = v as Record<string, unknown>
  return typeof o.name === 'string' && typeof o.size === 'number' && typeof o.mimeType === 'string' && typeof o.originalName === 'string'
}

/** File values: names and uploads, uniques kept in order. */
export function toFileList(v: unknown): (string | UploadedFile)[] {
  const list: unknown[] = Array.isArray(v) ? v : v === null || v === undefined || v === '' ? [] : [v]
  const out: (string | UploadedFile)[] = []
  // NB: a Set of names seen, not `out.includes`: a body can carry 100k names (linear, not quadratic).
  const seen = new Set<string>()
  const addName = (name: string) => {
    if (seen.has(name)) return
    seen.add(name)
    out.push(name)
  }
  for (const x of list) {
    if (isUploadedFile(x)) out.push(x)
    else if (typeof x === 'string' && x !== '') {
      if (x.startsWith('[')) {
        try {
          const parsed: unknown = JSON.parse(x)
          if (Array.isArray(parsed)) {
            for (const p of parsed) if (typeof p === 'string' && p) addName(p)
            continue
          }
        } catch {
          // a plain name
        }
      }
      addName(x)
    }
  }
  return out
}

export const fileName = (f: string | UploadedFile): string => (typeof f === 'string' ? f : f.name)
