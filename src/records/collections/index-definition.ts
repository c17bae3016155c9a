/**
 * PocketBase's index definitions (`CREATE [UNIQUE] INDEX [IF NOT EXISTS] name ON table (cols) [WHERE ...]`)
 * parsed into a structure, so that Plinth re-emits them through Kysely with quoted identifiers
 * instead of running the superuser's text.
 *
 * Accepted (a subset of PocketBase, which passes any SQLite expression through):
 * - columns are identifiers (bare, `back-ticked`, "double-quoted" or [bracketed]), each with an
 *   optional `COLLATE name` (kept for SQLite only) and `ASC`/`DESC`;
 * - `WHERE` is `col op literal` or `col IS [NOT] NULL` terms joined by AND, with op one of
 *   `= != <> < <= > >=` and literal a number or a '...' string without backslashes.
 * Anything else is rejected as `validation_invalid_index_expression`.
 */

export interface IndexColumn {
  name: string
  collate: string
  sort: '' | 'ASC' | 'DESC'
}

export type WhereOp = '=' | '!=' | '<' | '<=' | '>' | '>=' | 'is null' | 'is not null'

export interface WhereTerm {
  column: string
  op: WhereOp
  value?: string | number
}

export interface IndexDefinition {
  unique: boolean
  name: string
  table: string
  columns: IndexColumn[]
  where: WhereTerm[]
}

type Token = { kind: 'ident'; value: string; quoted: boolean } | { kind: 'punct'; value: string } | { kind: 'string'; value: string } | { kind: 'number'; value: number }

function tokenize(text: string): Token[] | undefined {
  const out: Token[] = []
  let i = 0
  const closers: Record<string, string> = { '`': '`', '"': '"', '[': ']' }
  while (i < text.length) {
    const c = text[i]!
    if (/\s/.test(c)) {
      i++
    } else if (c in closers) {
      const end = text.indexOf(closers[c]!, i + 1)
      if (end < 0) return undefined
      const value = text.slice(i + 1, end)
      if (!value) return undefined
      out.push({ kind: 'ident', value, quoted: true })
      i = end + 1
    } else if (c === "'") {
      let j = i + 1
      let value = ''
      for (;;) {
        if (j >= text.length) return undefined
        if (text[j] === "'") {
          if (text[j + 1] === "'") {
            value += "'"
            j += 2
            continue
          }
          break
        }
        value += text[j]
        j++
      }
      if (value.includes('\\')) return undefined
      out.push({ kind: 'string', value })
      i = j + 1
    } else if (/[0-9-]/.test(c)) {
      const m = /^-?\d+(\.\d+)?/.exec(text.slice(i))
      if (!m) return undefined
      out.push({ kind: 'number', value: Number(m[0]) })
      i += m[0].length
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_$]*/.exec(text.slice(i))!
      out.push({ kind: 'ident', value: m[0], quoted: false })
      i += m[0].length
    } else {
      const two = text.slice(i, i + 2)
      if (['!=', '<>', '<=', '>='].includes(two)) {
        out.push({ kind: 'punct', value: two === '<>' ? '!=' : two })
        i += 2
      } else if ('(),.=<>;'.includes(c)) {
        out.push({ kind: 'punct', value: c })
        i++
      } else return undefined
    }
  }
  return out
}

const IDENT = /^\w+$/

/** Parses one definition; undefined when it is not in the accepted form. */
export function parseIndex(text: string): IndexDefinition | undefined {
  const tokens = tokenize(text.trim().replace(/;\s*$/, ''))
  if (!tokens) return undefined
  let p = 0
  const peekWord = (w: string) => {
    const t = tokens[p]
    return t?.kind === 'ident' && !t.quoted && t.value.toUpperCase() === w
  }
  const word = (w: string) => (peekWord(w) ? (p++, true) : false)
  const punct = (v: string) => {
    const t = tokens[p]
    return t?.kind === 'punct' && t.value === v ? (p++, true) : false
  }
  const ident = (): string | undefined => {
    const t = tokens[p]
    if (t?.kind !== 'ident' || !IDENT.test(t.value)) return undefined
    p++
    return t.value
  }
  const qualified = (): string | undefined => {
    let name = ident()
    if (name !== undefined && punct('.')) name = ident() // schema.name: the schema is ignored
    return name
  }

  if (!word('CREATE')) return undefined
  const unique = word('UNIQUE')
  if (!word('INDEX')) return undefined
  if (word('IF')) {
    if (!word('NOT') || !word('EXISTS')) return undefined
  }
  const name = qualified()
  if (!name || !word('ON')) return undefined
  const table = qualified()
  if (!table || !punct('(')) return undefined
  const columns: IndexColumn[] = []
  do {
    const col = ident()
    if (!col) return undefined
    let collate = ''
    if (word('COLLATE')) {
      const c = ident()
      if (!c) return undefined
      collate = c
    }
    const sort = word('ASC') ? 'ASC' : word('DESC') ? 'DESC' : ''
    columns.push({ name: col, collate, sort })
  } while (punct(','))
  if (!punct(')')) return undefined
  const where: WhereTerm[] = []
  if (word('WHERE')) {
    do {
      const column = ident()
      if (!column) return undefined
      if (word('IS')) {
        const not = word('NOT')
        if (!word('NULL')) return undefined
        where.push({ column, op: not ? 'is not null' : 'is null' })
        continue
      }
      const op = tokens[p]
      if (op?.kind !== 'punct' || !['=', '!=', '<', '<=', '>', '>='].includes(op.value)) return undefined
      p++
      const lit = tokens[p]
      if (lit?.kind !== 'string' && lit?.kind !== 'number') return undefined
      p++
      where.push({ column, op: op.value as WhereOp, value: lit.value })
    } while (word('AND'))
  }
  if (p !== tokens.length) return undefined
  return { unique, name, table, columns, where }
}

/** Back to PocketBase's text form (what `_collections.indexes` stores and the API serves). */
export function formatIndex(def: IndexDefinition): string {
  const q = (s: string) => '`' + s + '`'
  const cols = def.columns.map((c) => [q(c.name), c.collate && `COLLATE ${c.collate}`, c.sort].filter(Boolean).join(' '))
  let out = `CREATE ${def.unique ? 'UNIQUE ' : ''}INDEX ${q(def.name)} ON ${q(def.table)} (${cols.join(', ')})`
  if (def.where.length) {
    const lit = (v: string | number) => (typeof v === 'number' ? String(v) : `'${v.replaceAll("'", "''")}'`)
    out += ' WHERE ' + def.where.map((w) => (w.value === undefined ? `${q(w.column)} ${w.op.toUpperCase()}` : `${q(w.column)} ${w.op} ${lit(w.value)}`)).join(' AND ')
  }
  return out
}

/** The definition's meaning without its name and table: to find duplicates. */
export function indexSignature(def: IndexDefinition): string {
  return formatIndex({ ...def, name: '_', table: '_' }).toLowerCase()
}

/** The unique index over exactly this one column (without WHERE narrowing its meaning aside), if any. */
export function findSingleColumnUniqueIndex(indexes: string[], column: string): IndexDefinition | undefined {
  for (const raw of indexes) {
    const def = parseIndex(raw)
    if (def?.unique && def.columns.length === 1 && def.columns[0]!.name.toLowerCase() === column.toLowerCase()) return def
  }
  return undefined
}
