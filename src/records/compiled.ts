import { ApiError } from '../errors.ts'
import { findSingleColumnUniqueIndex } from './collections/index-definition.ts'
import { rowDecoder, type RowDecoder } from './fields/row.ts'
import { bindCipher, type FieldCipher } from './fields/at-rest.ts'
import { parseCached, readsOnlyAuth, type Expr } from './filter/index.ts'
import { isAuthCollection, type Collection, type Field, type Rule } from './model.ts'

/**
 * Compiled collections: what depends only on a collection's definition, worked out once per
 * collection per schema version instead of on every request. Rules still compile to SQL per
 * request (`@request.*` values and the guest guard depend on the caller), so what is kept is the
 * parsed rule tree; the rest (hidden fields, the row decoder, response keys, relation targets)
 * needs nothing from the request.
 *
 * Collections from the store are deep-frozen, and a changed schema brings new objects, so a
 * compiled collection is keyed by the collection object itself (`compiledOf`): an old object keeps
 * its old compiled form for as long as a request still holds it.
 */

/** The API rules a collection has (`manage` and `auth` only on auth collections). */
export type RuleName = 'list' | 'view' | 'create' | 'update' | 'delete' | 'manage' | 'auth'

/**
 * One rule, parsed: `deny` (null: superusers only), `allow` (blank: everyone), or an expression.
 * `tree` is undefined for an expression of only comments (it matches every row, as today). A rule
 * that does not parse (stored before a parser change) keeps `error`, and the request that uses it
 * re-parses to raise the same `invalid_filter` as before, instead of the schema failing to load.
 */
export type CompiledRule =
  | { readonly kind: 'deny' }
  | { readonly kind: 'allow' }
  | {
      readonly kind: 'expr'
      readonly text: string
      readonly tree: Expr | undefined
      readonly error?: unknown
      /** It reads nothing of the request but `@request.auth.*` (and no clock): its SQL can be kept per caller. */
      readonly authOnly: boolean
    }

/** A relation field and the id of the collection it points at. */
export interface RelationTarget {
  readonly field: Field & { type: 'relation' }
  readonly collectionId: string
}

export interface CompiledCollection {
  /** The (frozen) definition this was compiled from. */
  readonly collection: Collection
  readonly isAuth: boolean
  readonly rules: Readonly<Record<RuleName, CompiledRule>>
  /** Names of the fields only superusers see. */
  readonly hidden: ReadonlySet<string>
  /** Keys a record response starts with, in order: `collectionId`, `collectionName`, then each field. */
  readonly responseKeys: readonly string[]
  /** Lower-cased names of the fields with a single-column UNIQUE index (checked before writes). */
  readonly uniqueFields: ReadonlySet<string>
  /** Relation fields by name, with their target collection ids. */
  readonly relations: ReadonlyMap<string, RelationTarget>
  /** A database row to API JSON (the same decoder `rowToRecord` uses), one decoder per field chosen up front. */
  readonly decode: RowDecoder
  /** The parsed form of `rule` when it is one of this collection's rules (by text), else undefined. */
  ruleByText(rule: string): CompiledRule | undefined
}

function deepFreeze<T>(v: T): T {
  if (v && typeof v === 'object' && !Object.isFrozen(v)) {
    Object.freeze(v)
    for (const x of Object.values(v)) deepFreeze(x)
  }
  return v
}

/**
 * Parses one rule; see `CompiledRule`. The tree comes frozen from the filter's parse cache: it is
 * shared by every request, and with the paths that compile the same text by itself.
 */
export function compileRule(rule: Rule): CompiledRule {
  if (rule === null) return { kind: 'deny' }
  if (rule.trim() === '') return { kind: 'allow' }
  try {
    const tree = parseCached(rule)
    return { kind: 'expr', text: rule, tree, authOnly: readsOnlyAuth(tree) }
  } catch (error) {
    if (!(error instanceof ApiError)) throw error
    return { kind: 'expr', text: rule, tree: undefined, error, authOnly: false }
  }
}

/** Compiles one collection. Pure: depends on nothing but `c`. */
export function compileCollection(c: Collection): CompiledCollection {
  const auth = isAuthCollection(c)
  const rules: Record<RuleName, CompiledRule> = {
    list: compileRule(c.listRule),
    view: compileRule(c.viewRule),
    create: compileRule(c.createRule),
    update: compileRule(c.updateRule),
    delete: compileRule(c.deleteRule),
    manage: compileRule(auth ? c.manageRule : null),
    auth: compileRule(auth ? c.authRule : null),
  }
  const byText = new Map<string, CompiledRule>()
  for (const r of Object.values(rules)) if (r.kind === 'expr') byText.set(r.text, r)
  const relations = new Map<string, RelationTarget>()
  for (const f of c.fields) if (f.type === 'relation') relations.set(f.name, { field: f, collectionId: f.collectionId })
  return Object.freeze({
    collection: c,
    isAuth: auth,
    rules: Object.freeze(rules),
    hidden: new Set(c.fields.filter((f) => f.hidden).map((f) => f.name)),
    responseKeys: Object.freeze(['collectionId', 'collectionName', ...c.fields.map((f) => f.name)]),
    relations,
    uniqueFields: new Set(c.fields.filter((f) => findSingleColumnUniqueIndex(c.indexes, f.name)).map((f) => f.name.toLowerCase())),
    decode: rowDecoder(c),
    ruleByText: (rule: string) => byText.get(rule),
  })
}

const cache = new WeakMap<Collection, CompiledCollection>()

/**
 * The compiled form of `c`: built once per frozen collection object (the store's, one per schema
 * version) and then reused. NB: an unfrozen collection (one being edited, or built by hand in a
 * test) may still change, so it is compiled afresh on every call and never cached.
 */
export function compiledOf(c: Collection): CompiledCollection {
  const hit = cache.get(c)
  if (hit) return hit
  const compiled = compileCollection(c)
  if (Object.isFrozen(c) && Object.isFrozen(c.fields)) cache.set(c, compiled)
  return compiled
}

/**
 * One version of the whole schema: the collections as read together, with their compiled forms.
 * Immutable; the store replaces it with a new one (one assignment) on every reload, so whoever
 * holds a snapshot reads one consistent schema for as long as it holds it.
 */
export interface SchemaSnapshot {
  /** The stored schema version this was read at ('' before the first change ever). */
  readonly version: string
  readonly collections: readonly Collection[]
  /** By id or by name (names matched case-insensitively, like PocketBase). */
  get(idOrName: string): Collection | undefined
  /** Like `get`, but throws ApiError('not_found'). */
  getOrThrow(idOrName: string): Collection
  /** The compiled form, by id or name. */
  compiled(idOrName: string): CompiledCollection | undefined
}

/**
 * Freezes `collections` and compiles each one into a snapshot at `version`; `cipher` seals and
 * opens the fields marked `encrypt` (bound before the row decoders are built).
 */
export function buildSnapshot(version: string, collections: Collection[], cipher?: FieldCipher): SchemaSnapshot {
  const list = collections.map((c) => deepFreeze(c))
  if (cipher) for (const c of list) if (c.fields.some((f) => f.encrypt)) bindCipher(c, cipher)
  const byId = new Map<string, CompiledCollection>()
  const byName = new Map<string, CompiledCollection>()
  for (const c of list) {
    const compiled = compiledOf(c)
    byId.set(c.id, compiled)
    byName.set(c.name.toLowerCase(), compiled)
  }
  const compiled = (idOrName: string) => byId.get(idOrName) ?? byName.get(idOrName.toLowerCase())
  return Object.freeze({
    version,
    collections: Object.freeze(list),
    compiled,
    get: (idOrName: string) => compiled(idOrName)?.collection,
    getOrThrow(idOrName: string): Collection {
      const c = compiled(idOrName)?.collection
      if (!c) throw new ApiError('not_found')
      return c
    },
  })
}
