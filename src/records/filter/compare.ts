import { sql, type RawBuilder, type SqlBool } from 'kysely'
import type { SqlCapabilities } from '../../sql/sql.ts'
import type { SqlFragments } from '../../sql/dialect.ts'
import { filterError, type SignOp } from './lexer.ts'
import { likeMatch, likePieces, renderLike } from './like.ts'
import type { Resolved } from './operand.ts'

type Scalar = Exclude<Resolved, { t: 'set' }>
type Const = Extract<Resolved, { t: 'const' }>
type BaseOp = '=' | '!=' | '>' | '>=' | '<' | '<=' | '~' | '!~'
type Mode = 'number' | 'bool' | 'text'

export const TRUE = sql<SqlBool>`(1=1)`
export const FALSE = sql<SqlBool>`(1=0)`

/** Constants that compare with a bool field as booleans (PocketBase stores them as 0/1). */
const boolConstants = new Set<unknown>([true, false, 'true', 'false', 0, 1, '0', '1'])
const truthy = new Set<unknown>([true, 'true', 1, '1'])

const numeric = /^\s*-?\d+(\.\d+)?\s*$/

function isNumberish(x: Scalar): boolean {
  // A JSON value orders as a number against a number (PocketBase's json_extract gives numbers).
  if (x.t === 'col') return x.kind === 'number' || x.kind === 'json'
  return typeof x.value === 'number' || (typeof x.value === 'string' && numeric.test(x.value))
}

/** Numbers compare as numbers when one side is a number field or literal and the other can be one. */
function modeOf(a: Scalar, b: Scalar): Mode {
  const strong = (x: Scalar) => (x.t === 'col' ? x.kind === 'number' : typeof x.value === 'number')
  if (isNumberish(a) && isNumberish(b) && (strong(a) || strong(b))) return 'number'
  const boolish = (x: Scalar) => (x.t === 'col' ? x.kind === 'bool' : boolConstants.has(x.value as never))
  if (boolish(a) && boolish(b) && (a.t === 'col' || b.t === 'col')) return 'bool'
  return 'text'
}

function constText(v: Const['value']): string {
  return v === null ? '' : String(v)
}

/** SQLite's longest LIKE pattern (SQLITE_MAX_LIKE_PATTERN_LENGTH); the same bound on every engine. */
const MAX_LIKE_PATTERN_BYTES = 50_000

function likeParam(value: string): string {
  const pattern = renderLike(likePieces(value))
  if (Buffer.byteLength(pattern) > MAX_LIKE_PATTERN_BYTES) throw filterError(`a ~ pattern longer than ${MAX_LIKE_PATTERN_BYTES} bytes`)
  return pattern
}

/** Evaluates a comparison of two constants in JavaScript (no SQL needed). */
function fold(op: BaseOp, a: Const, b: Const): boolean {
  const mode = modeOf(a, b)
  if (op === '~' || op === '!~') {
    const hit = likeMatch(constText(a.value), likePieces(constText(b.value)))
    return op === '~' ? hit : !hit
  }
  const x: string | number = mode === 'number' ? Number(a.value) : mode === 'bool' ? Number(truthy.has(a.value)) : constText(a.value)
  const y: string | number = mode === 'number' ? Number(b.value) : mode === 'bool' ? Number(truthy.has(b.value)) : constText(b.value)
  switch (op) {
    case '=':
      return x === y
    case '!=':
      return x !== y
    case '>':
      return x > y
    case '>=':
      return x >= y
    case '<':
      return x < y
    case '<=':
      return x <= y
  }
}

export class Comparer {
  constructor(
    private readonly dialect: SqlFragments,
    private readonly caps: SqlCapabilities,
  ) {}

  private value(x: Scalar, mode: Mode): RawBuilder<unknown> {
    if (x.t === 'const') {
      if (mode === 'number') return sql`${Number(x.value ?? 0)}`
      if (mode === 'bool') {
        const b = truthy.has(x.value)
        return this.caps.nativeBoolean ? sql`${b}` : sql`${b ? 1 : 0}`
      }
      return sql`${constText(x.value)}`
    }
    if (mode === 'number') {
      const n = x.kind === 'number' ? x.sql : this.dialect.asNumber(x.sql)
      // A missing JSON value stays NULL (the comparison is false), as PocketBase's json_extract.
      return x.nullable && x.kind !== 'json' ? sql`coalesce(${n}, 0)` : n
    }
    if (mode === 'bool') return x.sql
    // Booleans as text read 'true'/'false' on every engine (not 1/0 on some).
    const t = x.kind === 'text' ? x.sql : x.kind === 'bool' ? sql`(case when ${x.sql} then 'true' else 'false' end)` : this.dialect.asText(x.sql)
    return x.nullable ? sql`coalesce(${t}, '')` : t
  }

  /**
   * `=`/`!=` with a JSON value: PocketBase compares without its '' fallback (`IS`/`IS NOT`), so
   * `j = null` holds only for a missing or null value and `j = ''` only for the string "".
   */
  private jsonEquals(op: '=' | '!=', a: Scalar, b: Scalar): RawBuilder<SqlBool> {
    const side = (x: Scalar) => (x.t === 'const' ? (x.value === null ? sql`null` : this.dialect.asText(sql`${constText(x.value)}`)) : x.kind === 'json' ? this.dialect.asText(x.sql) : this.value(x, 'text'))
    const [x, y] = [this.dialect.exactText(side(a)), this.dialect.exactText(side(b))]
    const same = sql<SqlBool>`(case when ${x} is null then ${y} is null when ${y} is null then ${FALSE} else ${x} = ${y} end)`
    return op === '=' ? same : sql<SqlBool>`(not ${same})`
  }

  /** One comparison of two single values. */
  scalar(op: BaseOp, a: Scalar, b: Scalar): RawBuilder<SqlBool> {
    if (a.t === 'const' && b.t === 'const') return fold(op, a, b) ? TRUE : FALSE
    const json = (x: Scalar) => x.t === 'col' && x.kind === 'json'
    if ((op === '=' || op === '!=') && (json(a) || json(b))) return this.jsonEquals(op, a, b)
    if (op === '~' || op === '!~') {
      const left = this.value(a, 'text')
      // A column on the right is a pattern as it is, wrapped in `%` (PocketBase's contains-match).
      const right = b.t === 'const' ? sql`${likeParam(constText(b.value))}` : sql`concat('%', ${this.value(b, 'text')}, '%')`
      const not = op === '!~' ? sql`not ` : sql``
      return sql<SqlBool>`(${this.dialect.likeLower(left)} ${not}like ${this.dialect.likeLower(right)} escape ${this.dialect.likeEscape})`
    }
    const mode = modeOf(a, b)
    const sqlOp = op === '!=' ? '<>' : op
    const side = (x: Scalar) => (mode === 'text' ? this.dialect.exactText(this.value(x, mode)) : this.value(x, mode))
    return sql<SqlBool>`(${side(a)} ${sql.raw(sqlOp)} ${side(b)})`
  }

  /**
   * A comparison where either side may be a set. Plain operators need EVERY value of a set to
   * match, `?` operators ANY (PocketBase's rule).
   */
  compare(op: SignOp, left: Resolved, right: Resolved): RawBuilder<SqlBool> {
    const any = op.startsWith('?')
    const base = (any ? op.slice(1) : op) as BaseOp
    if (left.t !== 'set' && right.t !== 'set') return this.scalar(base, left, right)
    // PocketBase matches a plain `~` on a multi field against its stored JSON text (`editors ~ @request.auth.id`).
    const raw = (x: Resolved): Resolved => ((op === '~' || op === '!~') && x.t === 'set' && x.raw ? { t: 'col', sql: x.raw, kind: 'json', nullable: true } : x)
    const [l, r] = [raw(left), raw(right)]
    const equality = base === '=' || base === '!='
    // Two sets compare pair by pair (PocketBase's many-to-many match): every pair, or with `?` some pair.
    return this.quantify(l, !any, equality, (a) => this.quantify(r, !any, equality, (b) => this.scalar(base, a, b)))
  }

  /**
   * Whether `p` holds for every (or some) value of `x`; a single value is just itself. An empty set
   * is PocketBase's LEFT JOIN row of NULL: `=` and `!=` read it as '' (they coalesce), every other
   * operator is unknown there, so nothing matches.
   */
  private quantify(x: Resolved, every: boolean, equality: boolean, p: (v: Scalar) => RawBuilder<SqlBool>): RawBuilder<SqlBool> {
    if (x.t !== 'set') return p(x)
    const item = (v: RawBuilder<unknown>): Scalar => ({ t: 'col', sql: v, kind: x.kind, nullable: true })
    const onEmpty = equality ? p({ t: 'const', value: '' }) : FALSE
    if (!every || x.anyOnly) {
      const nonEmpty = x.exists(() => TRUE)
      return sql<SqlBool>`(${x.exists((v) => p(item(v)))} or (not ${nonEmpty} and ${onEmpty}))`
    }
    const all = x.scan ?? x.exists
    const nonEmpty = all(() => TRUE)
    // NB: `case ... then 1 else 0 end = 0` counts a NULL comparison as a failure, not as unknown.
    const fails = all((v) => sql<SqlBool>`(case when ${p(item(v))} then 1 else 0 end = 0)`)
    return sql<SqlBool>`((${nonEmpty} and not ${fails}) or (not ${nonEmpty} and ${onEmpty}))`
  }
}
