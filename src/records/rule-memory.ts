import { storageKind } from './columns.ts'
import type { CompiledRule } from './compiled.ts'
import type { Expr, Operand } from './filter/parser.ts'
import { findField, isAuthCollection, isMulti, type Collection, type Field } from './model.ts'
import type { RecordJson, RequestInfo } from './record.ts'

/**
 * A rule decided in memory for one record and one request, instead of a SQL query: a realtime
 * event's checks (one per client and event otherwise), a create rule on the row its INSERT gave
 * back (`records-insert.ts`). True or false, or undefined when the rule uses anything outside the
 * small part of the filter language this knows, and SQL must decide.
 *
 * What it knows, with the SQL compiler's semantics (`records/filter/compare.ts`) for exactly
 * these cases and nothing more:
 * - `&&`, `||`, and `=` / `!=` (no `?` operators, `~`, ordering or functions);
 * - operands: string, number, bool and null literals; a single-valued field of the record itself
 *   stored as text, number or bool (not json, not a multi value, not an auth collection's
 *   `email`, which has its own visibility, no modifiers, no relation paths); `@request.auth.id`,
 *   `collectionId`, `collectionName` and the caller's single-valued fields; `@request.method`,
 *   `context`, `headers.*` and `query.*` without modifiers;
 * - the comparison modes of `modeOf` (number, bool, text) and a guest's stricter rule
 *   (`filter/guest.ts`): a guest's `@request.auth.*` never equals a field.
 * A comparison that would compare a number or bool field as text goes to SQL: engines print
 * numbers differently.
 *
 * NB: a wrong answer here leaks a record to a client or hides it, so anything unsure is
 * undefined. `test/realtime/rule-memory.test.ts` checks every case against SQL on every engine.
 */

type Const = { t: 'const'; value: string | number | boolean | null }
type Col = { t: 'col'; value: unknown; kind: 'text' | 'number' | 'bool' }
type Scalar = Const | Col

/** Thrown inside the walk when SQL must decide; never leaves this file. */
const UNKNOWN = Symbol('unknown')

const boolConstants = new Set<unknown>([true, false, 'true', 'false', 0, 1, '0', '1'])
const truthy = new Set<unknown>([true, 'true', 1, '1'])
const numeric = /^\s*-?\d+(\.\d+)?\s*$/

function constant(value: unknown): Const {
  if (value === undefined || value === null) return { t: 'const', value: null }
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return { t: 'const', value }
  throw UNKNOWN
}

function ownField(c: Collection, name: string): Field {
  const field = findField(c, name)
  if (!field || isMulti(field) || field.type === 'password' || (isAuthCollection(c) && (name === 'email' || name === 'tokenKey'))) throw UNKNOWN
  return field
}

function kindOf(field: Field): Col['kind'] {
  const stored = storageKind(field)
  if (stored === 'number' || stored === 'bool') return stored
  if (stored === 'text' || stored === 'primary-key') return 'text'
  throw UNKNOWN
}

const isAuthRef = (o: Operand) => o.kind === 'ident' && o.name.startsWith('@request.auth.')
const isField = (o: Operand) => o.kind === 'ident' && !o.name.startsWith('@')

function operand(o: Operand, c: Collection, record: RecordJson, request: RequestInfo): Scalar {
  switch (o.kind) {
    case 'string':
    case 'number':
    case 'bool':
      return { t: 'const', value: o.value }
    case 'null':
      return { t: 'const', value: null }
    case 'ident':
      break
    default:
      throw UNKNOWN
  }
  const name = o.name
  if (name.includes(':')) throw UNKNOWN
  if (!name.startsWith('@')) {
    if (name.includes('.')) throw UNKNOWN
    const field = ownField(c, name)
    return { t: 'col', value: record[field.name], kind: kindOf(field) }
  }
  const parts = name.split('.')
  if (parts[0] !== '@request') throw UNKNOWN
  const [, section, key, ...rest] = parts
  if (rest.length) throw UNKNOWN
  if (section === 'method' && key === undefined) return constant(request.method.toUpperCase())
  if (section === 'context' && key === undefined) return constant(request.context)
  if ((section === 'headers' || section === 'query') && key !== undefined) {
    const source: Record<string, unknown> = section === 'headers' ? request.headers : request.query
    return constant(Object.prototype.hasOwnProperty.call(source, key) ? source[key] : undefined)
  }
  if (section !== 'auth' || key === undefined || key === 'password' || key === 'tokenKey') throw UNKNOWN
  const auth = request.auth
  if (!auth) return { t: 'const', value: '' }
  if (key === 'collectionName') return constant(auth.collection.name)
  if (key === 'collectionId') return constant(auth.collection.id)
  const field = findField(auth.collection, key)
  if (!field || isMulti(field) || field.type === 'password') throw UNKNOWN
  return constant(auth.record[field.name])
}

function isNumberish(x: Scalar): boolean {
  if (x.t === 'col') return x.kind === 'number'
  return typeof x.value === 'number' || (typeof x.value === 'string' && numeric.test(x.value))
}

/** `=` (or `!=`, negated by the caller) in the mode the SQL compiler would pick. */
function equal(a: Scalar, b: Scalar): boolean {
  const strong = (x: Scalar) => (x.t === 'col' ? x.kind === 'number' : typeof x.value === 'number')
  if (isNumberish(a) && isNumberish(b) && (strong(a) || strong(b))) {
    const num = (x: Scalar) => (x.t === 'col' ? (typeof x.value === 'number' && Number.isFinite(x.value) ? x.value : 0) : Number(x.value ?? 0))
    return num(a) === num(b)
  }
  const boolish = (x: Scalar) => (x.t === 'col' ? x.kind === 'bool' : boolConstants.has(x.value))
  if (boolish(a) && boolish(b) && (a.t === 'col' || b.t === 'col')) {
    const bool = (x: Scalar) => (x.t === 'col' ? x.value === true : truthy.has(x.value))
    return bool(a) === bool(b)
  }
  // Text: a number or bool field read as text differs between engines; SQL decides.
  const text = (x: Scalar): string => {
    if (x.t === 'col') {
      if (x.kind !== 'text') throw UNKNOWN
      return x.value === null || x.value === undefined ? '' : String(x.value)
    }
    return x.value === null ? '' : String(x.value)
  }
  return text(a) === text(b)
}

function evaluate(e: Expr, c: Collection, record: RecordJson, request: RequestInfo): boolean {
  if (e.kind !== 'compare') {
    // Every item is evaluated (no short cut), so anything unknown anywhere sends the rule to SQL.
    const values = e.items.map((x) => evaluate(x, c, record, request))
    return e.kind === 'and' ? values.every(Boolean) : values.some(Boolean)
  }
  if (e.op !== '=' && e.op !== '!=') throw UNKNOWN
  const left = operand(e.left, c, record, request)
  const right = operand(e.right, c, record, request)
  // A guest's `@request.auth.*` against a field: never equal (filter/guest.ts).
  if (!request.auth && ((isAuthRef(e.left) && isField(e.right)) || (isAuthRef(e.right) && isField(e.left)))) {
    return e.op === '!='
  }
  const same = equal(left, right)
  return e.op === '=' ? same : !same
}

/**
 * The rule's answer for `record` (raw, as the event carries it) and `request`, or undefined when
 * SQL must decide. The caller has handled superusers and `null`/blank rules.
 */
export function ruleInMemory(rule: CompiledRule | undefined, c: Collection, record: RecordJson, request: RequestInfo): boolean | undefined {
  if (!rule || rule.kind !== 'expr' || rule.error !== undefined) return undefined
  if (rule.tree === undefined) return true
  try {
    return evaluate(rule.tree, c, record, request)
  } catch (err) {
    if (err === UNKNOWN) return undefined
    throw err
  }
}
