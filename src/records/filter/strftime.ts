import { sql, type RawBuilder } from 'kysely'
import type { SqlCapabilities } from '../../sql/sql.ts'
import { filterError } from './lexer.ts'

/**
 * PocketBase's `strftime(format, time-value, modifiers...)` (SQLite's date function) on every
 * engine. SQLite runs its own; PostgreSQL and MariaDB build the same text from a timestamp.
 * Only a subset every engine can do identically is accepted; anything else is a 400 on every
 * engine (so a filter never works on one engine and fails on another).
 */

/** Supported substitutions (SQLite's meaning); %F, %T and %R expand to others first. */
const SPECS = new Set(['Y', 'm', 'd', 'H', 'M', 'S', 'f', 'j', 'w', 'u', 's', '%'])
const EXPAND: Record<string, string> = { F: '%Y-%m-%d', T: '%H:%M:%S', R: '%H:%M' }
type Unit = 'year' | 'month' | 'day' | 'hour' | 'minute' | 'second'

export type Modifier = { start: 'year' | 'month' | 'day' } | { add: number; unit: Unit }

/** A format as literal text and substitutions. Throws on a substitution outside the subset. */
export function parseFormat(format: string): { lit?: string; spec?: string }[] {
  const expanded = format.replace(/%([FTR])/g, (_, c: string) => EXPAND[c]!)
  const out: { lit?: string; spec?: string }[] = []
  for (let i = 0; i < expanded.length; i++) {
    const c = expanded[i]!
    if (c !== '%') {
      if (typeof out.at(-1)?.lit === 'string') out.at(-1)!.lit += c
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
  if (add) return { add: Number(add[1]), unit: add[2] as Unit }
  throw filterError(`strftime: unsupported modifier "${text}" (supported: start of day|month|year, ±N days|hours|minutes|seconds|months|years, utc)`)
}

/** The date forms a time value may take: PocketBase's `YYYY-MM-DD HH:MM:SS.sssZ` and its prefixes. */
export const TIME_VALUE = /^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?)?Z?$/
const TIME_VALUE_SQL = '^[0-9]{4}-[0-9]{2}-[0-9]{2}([ T][0-9]{2}:[0-9]{2}(:[0-9]{2}([.][0-9]{1,9})?)?)?Z?$'

const part = (t: RawBuilder<unknown>, from: number, len: number, asInt: (e: RawBuilder<unknown>) => RawBuilder<unknown>) =>
  asInt(sql`substr(${t}, ${sql.lit(from)}, ${sql.lit(len)})`)

/**
 * The SQL of strftime over the text time value `time`. NB: PostgreSQL and MariaDB build the
 * timestamp by adding the parts to a fixed date, so no text ever reaches a cast that could fail
 * (and day overflow rolls over as in SQLite: 2024-02-31 is 2024-03-02).
 */
export function strftimeSql(caps: SqlCapabilities, format: string, time: RawBuilder<unknown>, modifiers: Modifier[], rawModifiers: string[]): RawBuilder<string> {
  const pieces = parseFormat(format)
  if (caps.json === 'json1') {
    return sql<string>`strftime(${sql.join([sql`${format}`, time, ...rawModifiers.map((m) => sql`${m}`)])})`
  }
  const pg = caps.json === 'jsonb'
  const int = (e: RawBuilder<unknown>) => (pg ? sql`cast(${e} as integer)` : sql`cast(${e} as signed)`)
  const tx = pg ? sql`cast(${time} as text)` : sql`cast(${time} as char)`
  const bare = sql`replace(replace(${tx}, 'Z', ''), 'T', ' ')`
  const t = sql`(case when ${bare} is null or length(${bare}) < 10 then '0000-00-00 00:00:00.000' else concat(${bare}, substr('0000-00-00 00:00:00.000', length(${bare}) + 1)) end)`
  const y = part(t, 1, 4, int)
  const mo = part(t, 6, 2, int)
  const d = part(t, 9, 2, int)
  const h = part(t, 12, 2, int)
  const mi = part(t, 15, 2, int)
  const sec = pg ? sql`cast(substr(${t}, 18, 6) as double precision)` : sql`cast(substr(${t}, 18, 6) as decimal(9,3))`
  const valid = pg ? sql`(${tx} ~ ${TIME_VALUE_SQL})` : sql`(${tx} regexp ${TIME_VALUE_SQL})`
  let ts: RawBuilder<unknown> = pg
    ? sql`(timestamp '2000-01-01' + make_interval(years => ${y} - 2000, months => ${mo} - 1, days => ${d} - 1, hours => ${h}, mins => ${mi}, secs => ${sec}))`
    : sql`(timestamp('2000-01-01') + interval (${y} - 2000) year + interval (${mo} - 1) month + interval (${d} - 1) day + interval ${h} hour + interval ${mi} minute + interval ${sec} second)`
  for (const m of modifiers) {
    if ('start' in m) {
      ts = pg
        ? sql`date_trunc(${m.start}, ${ts})`
        : m.start === 'day'
          ? sql`timestamp(date(${ts}))`
          : sql`timestamp(date_format(${ts}, ${m.start === 'month' ? '%Y-%m-01' : '%Y-01-01'}))`
    } else {
      ts = pg ? sql`(${ts} + ${`${m.add} ${m.unit}`}::interval)` : sql`(${ts} + interval ${m.add} ${sql.raw(m.unit)})`
    }
  }
  const fmt = pg ? pgSpec(ts) : mysqlSpec(ts)
  const parts = pieces.map((p) => (p.spec ? fmt(p.spec) : pg ? sql`cast(${p.lit} as text)` : sql`${p.lit}`))
  const text = parts.length === 0 ? sql`''` : parts.length === 1 ? parts[0]! : sql`concat(${sql.join(parts)})`
  return sql<string>`(case when ${valid} then ${text} else null end)`
}

function pgSpec(ts: RawBuilder<unknown>) {
  return (spec: string): RawBuilder<unknown> => {
    switch (spec) {
      case 'w':
        return sql`cast(cast(extract(dow from ${ts}) as integer) as text)`
      case 's':
        return sql`cast(cast(floor(extract(epoch from ${ts})) as bigint) as text)`
      default:
        return sql`to_char(${ts}, ${({ Y: 'YYYY', m: 'MM', d: 'DD', H: 'HH24', M: 'MI', S: 'SS', f: 'SS.MS', j: 'DDD', u: 'ID' } as Record<string, string>)[spec]!})`
    }
  }
}

function mysqlSpec(ts: RawBuilder<unknown>) {
  return (spec: string): RawBuilder<unknown> => {
    switch (spec) {
      case 'f':
        return sql`concat(date_format(${ts}, '%S.'), left(date_format(${ts}, '%f'), 3))`
      case 'u':
        return sql`cast(weekday(${ts}) + 1 as char)`
      case 's':
        // NB: not unix_timestamp(), which reads the session time zone.
        return sql`cast(timestampdiff(second, timestamp('1970-01-01'), ${ts}) as char)`
      default:
        return sql`date_format(${ts}, ${({ Y: '%Y', m: '%m', d: '%d', H: '%H', M: '%i', S: '%S', j: '%j', w: '%w' } as Record<string, string>)[spec]!})`
    }
  }
}
