import type { Collection, Field } from '../model.ts'
import { blankField } from '../fields/definition.ts'
import { DEFAULT_ID_PATTERN } from './defaults.ts'

/**
 * View collections: the superuser's SELECT, checked to be one read-only statement, and the
 * fields PocketBase would infer for its result columns:
 * - `id` -> the text primary key;
 * - `count(...)` -> integer number, `cast(x as real|numeric|decimal|int|integer|text|bool|boolean)`
 *   -> number / text / bool;
 * - `col` or `alias.col` naming a field of a source collection -> a copy of that field under the
 *   column's name (`alias.id` of another collection -> a single relation to it);
 * - anything else -> json.
 */

/** Splits on top-level occurrences of `sep` (outside quotes and parentheses). */
function splitTopLevel(text: string, sep: RegExp): { parts: string[]; depthOk: boolean } {
  const parts: string[] = []
  let depth = 0
  let quote = ''
  let start = 0
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!
    if (quote) {
      if (c === quote) quote = ''
      continue
    }
    if (c === "'" || c === '"' || c === '`') quote = c
    else if (c === '(') depth++
    else if (c === ')') depth--
    else if (depth === 0) {
      const m = sep.exec(text.slice(i))
      if (m && m.index === 0) {
        parts.push(text.slice(start, i))
        i += m[0].length - 1
        start = i + 1
      }
    }
  }
  parts.push(text.slice(start))
  return { parts, depthOk: depth === 0 && !quote }
}

/** The query without trailing `;`, or an error message when it is not one SELECT statement. */
export function normalizeViewQuery(query: string): { query: string } | { error: string } {
  const q = query.trim().replace(/;+\s*$/, '').trim()
  if (!q) return { error: 'The view query cannot be empty.' }
  const { parts, depthOk } = splitTopLevel(q, /^;/)
  if (!depthOk) return { error: 'Unbalanced quotes or parentheses.' }
  if (parts.length > 1) return { error: 'Multiple statements are not supported.' }
  if (!/^(select|with)\b/i.test(q)) return { error: 'Only SELECT queries are supported.' }
  return { query: q }
}

interface SelectColumn {
  alias: string
  original: string
}

const unquote = (s: string) => s.trim().replace(/^[`"[](.*)[`"\]]$/, '$1')

/** The select list and the FROM/JOIN tables (alias -> name) of the outermost SELECT. */
function parseSelect(query: string): { columns: SelectColumn[]; tables: Map<string, string>; main?: string } {
  const tables = new Map<string, string>()
  const body = query.replace(/^with\b[\s\S]*?\)\s*(?=select\b)/i, '')
  const selectMatch = /^select\s+(distinct\s+)?/i.exec(body.trim())
  if (!selectMatch) return { columns: [], tables }
  const rest = body.trim().slice(selectMatch[0].length)
  const fromSplit = splitTopLevel(rest, /^\sfrom\s/i).parts
  const list = fromSplit[0] ?? ''
  const afterFrom = fromSplit.slice(1).join(' from ')
  const columns = splitTopLevel(list, /^,/).parts.map((raw) => {
    const item = raw.trim()
    const m = /^([\s\S]*?)\s+(?:as\s+)?([`"[]?\w+[`"\]]?)$/i.exec(item)
    if (m && m[1]!.trim() && !/[.(]$/.test(m[1]!.trim()) ) return { original: m[1]!.trim(), alias: unquote(m[2]!) }
    const bare = unquote(item.split('.').at(-1) ?? item)
    return { original: item, alias: bare }
  })
  let main: string | undefined
  const tableRe = /(?:^|\bjoin\s+)([`"[]?\w+[`"\]]?)(?:\s+(?:as\s+)?(?!(?:on|where|left|right|inner|outer|cross|join|group|order|limit|natural|using|union)\b)([`"[]?\w+[`"\]]?))?/gi
  for (const m of afterFrom.trim().matchAll(tableRe)) {
    const name = unquote(m[1]!)
    const alias = m[2] ? unquote(m[2]) : name
    tables.set(alias.toLowerCase(), name)
    main ??= alias.toLowerCase()
  }
  return { columns, tables, main }
}

const idField = (): Field => ({
  ...blankField('text', 'id'), system: true, required: true, primaryKey: true, pattern: DEFAULT_ID_PATTERN,
}) as Field

/**
 * The fields of a view whose result has `columnNames` (in order), inferred from `query` against
 * the known collections. Throws when there is no `id` column.
 */
export function inferViewFields(query: string, columnNames: string[], lookup: (name: string) => Collection | undefined): Field[] {
  if (!columnNames.includes('id')) {
    throw new Error('missing required id column (you can use `(ROW_NUMBER() OVER()) as id` if you don\'t have one)')
  }
  const { columns, tables, main } = parseSelect(query)
  return columnNames.map((name) => {
    if (name === 'id') return idField()
    const col = columns.find((c) => c.alias === name)
    const json = () => ({ ...blankField('json', name), maxSize: 1 }) as Field
    if (!col) return json()
    const lower = col.original.toLowerCase()
    if (lower.startsWith('count(')) return { ...blankField('number', name), onlyInt: true } as Field
    if (lower.startsWith('total(') || lower.startsWith('sum(') || lower.startsWith('avg(')) return blankField('number', name)
    const cast = /^cast\s*\([\s\S]*\s+as\s+(\w+)\s*\)$/i.exec(lower)
    if (cast) {
      const t = cast[1]!
      if (['real', 'decimal', 'numeric', 'double', 'float'].includes(t)) return blankField('number', name)
      if (['int', 'integer', 'bigint', 'signed'].includes(t)) return { ...blankField('number', name), onlyInt: true } as Field
      if (['text', 'char', 'varchar'].includes(t)) return blankField('text', name)
      if (['bool', 'boolean'].includes(t)) return blankField('bool', name)
    }
    const parts = col.original.split('.').map(unquote)
    if (parts.length > 2 || !/^\w+$/.test(parts.at(-1)!)) return json()
    const source = parts.length === 2 ? tables.get(parts[0]!.toLowerCase()) : main ? tables.get(main) : undefined
    const collection = source ? lookup(source) : undefined
    const fieldName = parts.at(-1)!
    const field = collection?.fields.find((f) => f.name.toLowerCase() === fieldName.toLowerCase())
    if (!collection || !field) return json()
    if (field.name === 'id') {
      return { ...blankField('relation', name), maxSelect: 1, collectionId: collection.id } as Field
    }
    const clone = structuredClone(field)
    clone.id = ''
    clone.name = name
    clone.system = false
    if (clone.type === 'text') clone.primaryKey = false
    return clone
  })
}

/**
 * The collection and field a view's column `name` copies (`col` or `alias.col` of a source
 * collection), or undefined for a computed column; what PocketBase's FindRecordByViewFile walks.
 */
export function viewColumnSource(query: string, name: string, lookup: (name: string) => Collection | undefined): { collection: Collection; field: Field } | undefined {
  const { columns, tables, main } = parseSelect(query)
  const col = columns.find((c) => c.alias === name)
  if (!col) return undefined
  const parts = col.original.split('.').map(unquote)
  if (parts.length > 2 || !/^\w+$/.test(parts.at(-1)!)) return undefined
  const source = parts.length === 2 ? tables.get(parts[0]!.toLowerCase()) : main ? tables.get(main) : undefined
  const collection = source ? lookup(source) : undefined
  const field = collection?.fields.find((f) => f.name.toLowerCase() === parts.at(-1)!.toLowerCase())
  return collection && field ? { collection, field } : undefined
}
