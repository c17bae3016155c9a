/**
 * Values between engines. Each driver hands back its own shapes (PostgreSQL: booleans, parsed
 * JSONB, int8 as text; MySQL: 0/1, JSON parsed or as text; SQLite: 0/1 and text), so every value
 * read is first put in one engine-neutral form (`canon`), which is what dumps store and what the
 * checksum hashes, then bound the way the target engine takes it (`bindValue`).
 */
import { createHash } from 'node:crypto'

/**
 * How a column holds its values, as far as copying cares:
 * - `text`: a string; `int` and `float`: a JS number; `bool`: true/false;
 * - `json`: the JSON document's text (kept as read, so SQLite's key order survives a copy between
 *   text columns; compared by its parsed value).
 */
export type ValueKind = 'text' | 'int' | 'float' | 'bool' | 'json'

/** A column's kind from the type name an engine's introspection reports. */
export function kindOfType(dataType: string): ValueKind {
  const t = dataType.toLowerCase()
  if (t === 'bool' || t === 'boolean' || t === 'tinyint') return 'bool'
  if (t.includes('json')) return 'json'
  if (t.includes('int')) return 'int'
  if (/double|float|real|numeric|decimal/.test(t)) return 'float'
  return 'text'
}

/** The neutral form of one value read from any engine (null stays null). */
export function canon(kind: ValueKind, v: unknown): unknown {
  if (v === null || v === undefined) return null
  switch (kind) {
    case 'bool':
      return v === true || v === 1 || v === 1n || v === '1' || v === 't' || v === 'true'
    case 'int':
    case 'float':
      return typeof v === 'number' ? v : Number(v)
    case 'json':
      if (typeof v === 'string') return v
      if (Buffer.isBuffer(v)) return v.toString('utf8')
      return JSON.stringify(v)
    default:
      if (typeof v === 'string') return v
      if (Buffer.isBuffer(v)) return v.toString('utf8')
      if (v instanceof Date) return v.toISOString()
      return String(v)
  }
}

/** A neutral value as the target binds it: booleans as 1/0 where the engine has no boolean type. */
export function bindValue(kind: ValueKind, v: unknown, nativeBoolean: boolean): unknown {
  if (v === null) return null
  if (kind === 'bool') return nativeBoolean ? v === true : v === true ? 1 : 0
  return v
}

/** JSON text with object keys sorted, so JSONB's reordering and whitespace do not change a checksum. */
function stableJson(text: string): string {
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    return `raw:${text}`
  }
  const walk = (x: unknown): string => {
    if (Array.isArray(x)) return `[${x.map(walk).join(',')}]`
    if (x && typeof x === 'object') {
      const o = x as Record<string, unknown>
      return `{${Object.keys(o).sort().map((k) => `${JSON.stringify(k)}:${walk(o[k])}`).join(',')}}`
    }
    return JSON.stringify(x)
  }
  return walk(parsed)
}

/**
 * A table's checksum: the XOR of the sha256 of every row's neutral values, so it does not depend
 * on the order rows are read in (engines sort text differently: byte order, collations). Rows are
 * unique by their key, so no two equal rows cancel out.
 */
export class TableChecksum {
  readonly #acc = Buffer.alloc(32)
  rows = 0

  constructor(private readonly kinds: readonly ValueKind[]) {}

  /** Adds one row of neutral values, in the table's column order. */
  add(values: readonly unknown[]): void {
    const parts = values.map((v, i) => (v === null ? 'null' : this.kinds[i] === 'json' ? stableJson(v as string) : JSON.stringify(v)))
    const digest = createHash('sha256').update(parts.join('\u0001')).digest()
    for (let i = 0; i < 32; i++) this.#acc[i]! ^= digest[i]!
    this.rows++
  }

  hex(): string {
    return this.#acc.toString('hex')
  }
}
