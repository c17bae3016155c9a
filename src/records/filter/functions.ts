import { sql, type RawBuilder } from 'kysely'
import { toDbDate } from '../model.ts'
import { filterError } from './lexer.ts'
import type { Resolved } from './operand.ts'
import type { Operand } from './parser.ts'
import type { ResolveContext } from './resolve.ts'
import { parseModifier, strftimeSql, TIME_VALUE, type Modifier } from './strftime.ts'

type ResolveOperand = (o: Operand) => Resolved

/**
 * PocketBase's filter functions (`tools/search/token_functions.go`): `geoDistance` and `strftime`.
 * A function of a multi value (a multi relation's field) is itself a multi value: `?` operators
 * need one item to match, plain operators every item, as for the field alone.
 */
export function resolveCall(ctx: ResolveContext, name: string, args: Operand[], resolve: ResolveOperand): Resolved {
  switch (name) {
    case 'geoDistance':
      return geoDistance(ctx, args, resolve)
    case 'strftime':
      return strftime(ctx, args, resolve)
    default:
      throw filterError(`unknown function "${name}"`)
  }
}

/** Applies `f` to a value; over a set, to each of its items. */
function map(x: Resolved, f: (v: RawBuilder<unknown>) => RawBuilder<unknown>, kind: 'text' | 'number', nullable: boolean): Resolved {
  if (x.t === 'set') return { t: 'set', kind, anyOnly: x.anyOnly, exists: (p) => x.exists((v) => p(f(v))) }
  return { t: 'col', sql: f(x.t === 'const' ? sql`${x.value}` : x.sql), kind, nullable }
}

function strftime(ctx: ResolveContext, args: Operand[], resolve: ResolveOperand): Resolved {
  const [format, timeArg, ...modifierArgs] = args
  if (format?.kind !== 'string') throw filterError('strftime: the first argument must be a format string')
  const modifiers: Modifier[] = []
  const raw: string[] = []
  for (const m of modifierArgs) {
    if (m.kind !== 'string') throw filterError('strftime: modifiers must be strings')
    const parsed = parseModifier(m.value)
    if (!parsed) continue
    modifiers.push(parsed)
    // SQLite gets the modifier as parsed, so it reads exactly what the other engines do ('utc'
    // is left out: SQLite would shift by the server's own time zone).
    raw.push('start' in parsed ? `start of ${parsed.start}` : `${parsed.add >= 0 ? '+' : ''}${parsed.add} ${parsed.unit}s`)
  }
  let time: Resolved
  if (!timeArg || (timeArg.kind === 'string' && timeArg.value === 'now')) time = { t: 'const', value: toDbDate(new Date()) }
  else if (timeArg.kind === 'string') {
    // An unreadable date gives NULL (''), as SQLite's strftime; checked here so every engine agrees.
    time = { t: 'const', value: TIME_VALUE.test(timeArg.value) ? timeArg.value : null }
  } else if (timeArg.kind === 'ident' || timeArg.kind === 'call') time = resolve(timeArg)
  else throw filterError('strftime: the time value must be a date string or a field')
  const caps = ctx.scope.capabilities
  // NB: the format and modifiers are bound parameters on SQLite, and fixed SQL built from the
  // parsed subset elsewhere: user text never becomes SQL.
  return map(time, (v) => strftimeSql(caps, format.value, v, modifiers, raw), 'text', true)
}

function geoDistance(ctx: ResolveContext, args: Operand[], resolve: ResolveOperand): Resolved {
  if (args.length !== 4) throw filterError(`geoDistance: expected 4 arguments, got ${args.length}`)
  const nums = args.map((a, i) => {
    if (a.kind !== 'number' && a.kind !== 'ident' && a.kind !== 'null') throw filterError(`geoDistance: argument ${i + 1} must be a number or a field`)
    const r = resolve(a)
    if (r.t === 'set') throw filterError(`geoDistance: argument ${i + 1} has several values; use a single relation or a geoPoint field`)
    if (r.t === 'const') return typeof r.value === 'number' ? sql`${r.value}` : r.value === null ? sql`null` : ctx.dialect.asNumber(sql`${String(r.value)}`)
    return r.kind === 'number' ? r.sql : ctx.dialect.asNumber(r.sql)
  })
  const [lonA, latA, lonB, latB] = nums.map((n) => sql`radians(${n})`) as [RawBuilder<unknown>, RawBuilder<unknown>, RawBuilder<unknown>, RawBuilder<unknown>]
  // The spherical law of cosines, PocketBase's formula, in km. NB: rounding can push the cosine a
  // hair past 1, where acos fails on PostgreSQL: clamp it.
  const cosine = sql`(cos(${latA}) * cos(${latB}) * cos(${lonB} - ${lonA}) + sin(${latA}) * sin(${latB}))`
  const clamped = sql`(case when ${cosine} > 1 then 1 when ${cosine} < -1 then -1 else ${cosine} end)`
  return { t: 'col', sql: sql`(6371 * acos(${clamped}))`, kind: 'number', nullable: false }
}
