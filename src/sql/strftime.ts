import { sql, type RawBuilder } from 'kysely'
import type { DateModifier, DatePiece } from './dialect.ts'

/**
 * SQLite's strftime built from a timestamp, for engines without it. Each engine gives the few
 * functions below; this file assembles them the same way for all, so the result is the same text.
 */
export interface DateKit {
  /** A text as an integer. */
  int(e: RawBuilder<unknown>): RawBuilder<unknown>
  /** A value as text. */
  text(e: RawBuilder<unknown>): RawBuilder<unknown>
  /** `SS.fff` text as seconds with a fraction. */
  seconds(e: RawBuilder<unknown>): RawBuilder<unknown>
  /** Whether `e` matches the regular expression `re` (POSIX ERE). */
  matches(e: RawBuilder<unknown>, re: string): RawBuilder<unknown>
  /** The timestamp of these parts, overflow rolling over (day 31 of February is in March). */
  timestamp(p: { y: RawBuilder<unknown>; mo: RawBuilder<unknown>; d: RawBuilder<unknown>; h: RawBuilder<unknown>; mi: RawBuilder<unknown>; sec: RawBuilder<unknown> }): RawBuilder<unknown>
  apply(ts: RawBuilder<unknown>, m: DateModifier): RawBuilder<unknown>
  /** One substitution (`Y`, `m`, `d`, `H`, `M`, `S`, `f`, `j`, `w`, `u`, `s`) as text. */
  spec(ts: RawBuilder<unknown>, spec: string): RawBuilder<unknown>
  /** A literal piece of the format, as text. */
  literal(text: string): RawBuilder<unknown>
}

/** The forms a time value may take, as SQL's regular expression. */
const TIME_VALUE_SQL = '^[0-9]{4}-[0-9]{2}-[0-9]{2}([ T][0-9]{2}:[0-9]{2}(:[0-9]{2}([.][0-9]{1,9})?)?)?Z?$'

/**
 * NB: the timestamp is built by adding the parts to a fixed date, so no text ever reaches a cast
 * that could fail; a time value that is not one gives NULL, as in SQLite.
 */
export function strftimeFromKit(kit: DateKit, time: RawBuilder<unknown>, pieces: DatePiece[], modifiers: DateModifier[]): RawBuilder<string> {
  const tx = kit.text(time)
  const bare = sql`replace(replace(${tx}, 'Z', ''), 'T', ' ')`
  const t = sql`(case when ${bare} is null or length(${bare}) < 10 then '0000-00-00 00:00:00.000' else concat(${bare}, substr('0000-00-00 00:00:00.000', length(${bare}) + 1)) end)`
  const part = (from: number, len: number) => kit.int(sql`substr(${t}, ${sql.lit(from)}, ${sql.lit(len)})`)
  let ts = kit.timestamp({ y: part(1, 4), mo: part(6, 2), d: part(9, 2), h: part(12, 2), mi: part(15, 2), sec: kit.seconds(sql`substr(${t}, 18, 6)`) })
  for (const m of modifiers) ts = kit.apply(ts, m)
  const parts = pieces.map((p) => (p.spec !== undefined ? kit.spec(ts, p.spec) : kit.literal(p.lit)))
  const text = parts.length === 0 ? sql`''` : parts.length === 1 ? parts[0]! : sql`concat(${sql.join(parts)})`
  return sql<string>`(case when ${kit.matches(tx, TIME_VALUE_SQL)} then ${text} else null end)`
}
