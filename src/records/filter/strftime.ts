import type { RawBuilder } from 'kysely'
import type { DateModifier, DatePiece, DateUnit, SqlFragments } from '../../sql/dialect.ts'
import { filterError } from './lexer.ts'

/**
 * PocketBase's `strftime(format, time-value, modifiers...)` (SQLite's date function) on every
 * engine: each dialect writes it (its own function, or the same text built from a timestamp).
 * Only a subset every engine can do identically is accepted; anything else is a 400 on every
 * engine (so a filter never works on one engine and fails on another).
 */

/** Supported substitutions (SQLite's meaning); %F, %T and %R expand to others first. */
const SPECS = new Set(['Y', 'm', 'd', 'H', 'M', 'S', 'f', 'j', 'w', 'u', 's', '%'])
const EXPAND: Record<string, string> = { F: '%Y-%m-%d', T: '%H:%M:%S', R: '%H:%M' }
export type Modifier = DateModifier

/** A format as literal text and substitutions. Throws on a substitution outside the subset. */
export function parseFormat(format: string): DatePiece[] {
  const expanded = format.replace(/%([FTR])/g, (_, c: string) => EXPAND[c]!)
  const out: DatePiece[] = []
  for (let i = 0; i < expanded.length; i++) {
    const c = expanded[i]!
    if (c !== '%') {
      const last = out.at(-1)
      if (last?.lit !== undefined) out[out.length - 1] = { lit: last.lit + c }
      else out.push({ lit: c })
      continue
    }
    const spec = expanded[++i]
    if (!spec || !SPECS.has(spec)) throw filterError(`strftime: unsupported format "%${spec ?? ''}" (supported: %Y %m %d %H %M %S %f %j %w %u %s %F %T %R %%)`)
    if (spec === '%') out.push({ lit: '%' })
    else out.push({ spec })
  }
  return out
}

/** `start of day|month|year` and `±N unit(s)`; `utc` is accepted and changes nothing (times are UTC). */
export function parseModifier(text: string): Modifier | undefined {
  const m = text.trim().toLowerCase()
  if (m === 'utc') return undefined
  const start = /^start of (day|month|year)$/.exec(m)
  if (start) return { start: start[1] as 'day' | 'month' | 'year' }
  const add = /^([+-]?\d{1,6}) (year|month|day|hour|minute|second)s?$/.exec(m)
  if (add) return { add: Number(add[1]), unit: add[2] as DateUnit }
  throw filterError(`strftime: unsupported modifier "${text}" (supported: start of day|month|year, ±N days|hours|minutes|seconds|months|years, utc)`)
}

/** The date forms a time value may take: PocketBase's `YYYY-MM-DD HH:MM:SS.sssZ` and its prefixes. */
export const TIME_VALUE = /^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?)?Z?$/

/**
 * The SQL of strftime over the text time value `time`, by the engine's dialect. NB: the format and
 * modifiers are checked here first, so every engine accepts the same subset.
 */
export function strftimeSql(dialect: SqlFragments, format: string, time: RawBuilder<unknown>, modifiers: Modifier[], rawModifiers: string[]): RawBuilder<string> {
  return dialect.strftime(time, { raw: format, pieces: parseFormat(format) }, { raw: rawModifiers, parsed: modifiers })
}
