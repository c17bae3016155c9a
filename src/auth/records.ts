import { sql, type Kysely } from 'kysely'
import { findSingleColumnUniqueIndex } from '../records/collections/index-definition.ts'
import { isAuthCollection, type AuthCollection } from '../records/model.ts'
import type { CollectionRegistry } from '../records/registry.ts'
import { parseToken, verifyParsed, type TokenClaims, type TokenType } from './tokens.ts'

/**
 * Reading auth records straight from their table. Rows are raw column values: `verified` is
 * 0/1 on SQLite and MySQL and a boolean on PostgreSQL, so read it with `rowBool`.
 */
// NB: `any` is Kysely's convention for a schema known only at run time (collections).
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Db = Kysely<any>
export type Row = Record<string, unknown>

export function rowString(row: Row, column: string): string {
  const v = row[column]
  return typeof v === 'string' ? v : v == null ? '' : String(v)
}

export function rowBool(row: Row, column: string): boolean {
  const v = row[column]
  return v === true || v === 1 || v === '1' || v === 't' || v === 'true' || v === 1n
}

export async function findRowById(db: Db, collection: AuthCollection, id: string): Promise<Row | undefined> {
  return (await db.selectFrom(collection.name).selectAll().where('id', '=', id).limit(1).executeTakeFirst()) as Row | undefined
}

/**
 * The single-column UNIQUE index on `field`, PocketBase's requirement for an identity field;
 * `nocase` when it is declared `COLLATE NOCASE` (then lookups ignore case, as PocketBase's do).
 */
export function uniqueIndexOn(collection: AuthCollection, field: string): { nocase: boolean } | undefined {
  const def = findSingleColumnUniqueIndex(collection.indexes, field)
  return def && { nocase: def.columns[0]!.collate.toLowerCase() === 'nocase' }
}

/**
 * Finds one record whose identity field equals `value`. `email` is always allowed (it is a system
 * field with a unique index in every auth collection); other fields need a single-column unique
 * index, so an identity can never match two accounts.
 */
export async function findRowByIdentity(db: Db, collection: AuthCollection, field: string, value: string): Promise<Row | undefined> {
  if (!collection.fields.some((f) => f.name === field)) return undefined
  const index = uniqueIndexOn(collection, field)
  if (!index && field !== 'email') return undefined
  let q = db.selectFrom(collection.name).selectAll()
  // Case-insensitive where the index says so; lower() on both sides works on all three engines.
  q = index?.nocase
    ? q.where(sql`lower(${sql.ref(field)})`, '=', value.toLowerCase())
    : q.where(field, '=', value)
  return (await q.limit(1).executeTakeFirst()) as Row | undefined
}

export function findRowByEmail(db: Db, collection: AuthCollection, email: string): Promise<Row | undefined> {
  return findRowByIdentity(db, collection, 'email', email)
}

export interface TokenMatch {
  collection: AuthCollection
  row: Row
  claims: TokenClaims
}

/**
 * The record a token belongs to, after checking its signature against the record's current
 * tokenKey (so tokens issued before a password change fail here). Null for anything invalid.
 */
export async function findRowByToken(
  deps: { registry: CollectionRegistry; db: Db },
  token: string,
  type: TokenType,
): Promise<TokenMatch | null> {
  const parsed = parseToken(token)
  const unverified = parsed?.claims
  if (!parsed || !unverified || unverified.type !== type) return null
  const collection = deps.registry.get(unverified.collectionId)
  if (!collection || !isAuthCollection(collection) || collection.id !== unverified.collectionId) return null
  const row = await findRowById(deps.db, collection, unverified.id)
  if (!row) return null
  const claims = verifyParsed(parsed, collection, rowString(row, 'tokenKey'), type)
  return claims ? { collection, row, claims } : null
}
