import type { FieldError } from '../../errors.ts'
import type { TextField } from '../model.ts'

/** Text value rules shared by record validation and the autogenerate-pattern check. */

const FORBIDDEN_PK_CHARS = ['.', '/', '\\', '|', '"', "'", '`', '<', '>', ':', '?', '*', '%', '$', '\0', '\t', '\n', '\r', ' ']
const RESERVED_PKS = ['CON', 'PRN', 'AUX', 'NUL', ...[1, 2, 3, 4, 5, 6, 7, 8, 9].flatMap((n) => [`COM${n}`, `LPT${n}`])]
export const DEFAULT_TEXT_MAX = 5000
const DEFAULT_ID_PATTERN = '^[a-z0-9]+$'

const patternCache = new Map<string, RegExp | null>()
/** Compiles a field's pattern once; an invalid pattern (rejected at collection save) never matches. */
export function compiledPattern(pattern: string): RegExp | null {
  let re = patternCache.get(pattern)
  if (re === undefined) {
    try {
      re = new RegExp(pattern)
    } catch {
      re = null
    }
    patternCache.set(pattern, re)
  }
  return re
}

/** Undefined when valid; otherwise PocketBase's error for the value. */
export function validateTextValue(f: TextField, value: string): FieldError | undefined {
  if ((f.required || f.primaryKey) && value === '') return { code: 'validation_required', message: 'Cannot be blank.' }
  if (value === '') return undefined
  const length = [...value].length
  if (f.min > 0 && length < f.min) return { code: 'validation_min_text_constraint', message: `Must be at least ${f.min} character(s).`, params: { min: f.min } }
  const max = f.max || DEFAULT_TEXT_MAX
  if (length > max) return { code: 'validation_max_text_constraint', message: `Must be no more than ${max} character(s).`, params: { max } }
  if (f.pattern && !compiledPattern(f.pattern)?.test(value)) return { code: 'validation_invalid_format', message: 'Invalid value format.' }
  if (f.primaryKey && f.pattern !== DEFAULT_ID_PATTERN) {
    const ch = FORBIDDEN_PK_CHARS.find((c) => value.includes(c))
    if (ch !== undefined) return { code: 'validation_forbidden_pk_character', message: `'${ch}' is not a valid primary key character.`, params: { ch } }
    if (length <= 4 && RESERVED_PKS.includes(value.toUpperCase())) {
      return { code: 'validation_reserved_pk', message: `The primary key '${value}' is reserved and cannot be used.`, params: { reserved: value } }
    }
  }
  return undefined
}
