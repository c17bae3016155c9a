import { sql, type Kysely } from 'kysely'
import { ApiError, validationError } from '../errors.ts'
import { compiledOf } from './compiled.ts'
import { rowToRecord, sealValues } from './fields/index.ts'
import type { Collection } from './model.ts'
import type { RecordJson, RequestInfo } from './record.ts'
import { relationCounts, relationErrors, type RelationLookup } from './records-checks.ts'
import type { RuleAccess } from './records-rules.ts'
import { ruleInMemory } from './rule-memory.ts'

/** What `insertRecord` needs besides the row. */
export interface InsertOptions {
  /** The create rule as the caller meets it (`allow` for superusers and open rules). */
  access: RuleAccess
  /** The request the rule sees (its body after modifiers). */
  request: RequestInfo
  /** The engine gives back an inserted row (`INSERT ... RETURNING`). */
  returning: boolean
  /** Relations still to check, counted by a statement below (see `foldableRelations`). */
  relations?: RelationLookup[]
}

const refused = () => new ApiError('bad_request', 'Failed to create record.')

/**
 * Inserts a new record's row in the open transaction and checks it there, PocketBase's way: the
 * create rule is judged against the new row and a refusal rolls the insert back (the unit of work
 * rolls back with the error). In as few statements as the engine allows: where the INSERT returns
 * the row (with the relations' counts), a rule over the row's own fields and `@request.auth.*` is
 * decided in memory (`rule-memory.ts`); otherwise the row is read back under the rule.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function insertRecord(db: Kysely<any>, c: Collection, values: Record<string, unknown>, o: InsertOptions): Promise<RecordJson> {
  const { access } = o
  // Last before SQL: every check before this read the plaintext (fields marked `encrypt`).
  sealValues(c, values, String(values.id))
  const relations = o.relations?.length ? o.relations : undefined
  const insert = db.insertInto(c.name).values(values)
  let row: Record<string, unknown> | undefined
  if (o.returning) row = await (relations ? insert.returningAll().returning(relationCounts(relations)) : insert.returningAll()).executeTakeFirst()
  else await insert.execute()
  const record = row && rowToRecord(c, row)
  const decided = access.kind !== 'where' ? true : record && ruleInMemory(compiledOf(c).ruleByText(c.createRule ?? ''), c, record, o.request)
  if (decided === false) throw refused()
  if (decided === undefined || !row) {
    let read = db.selectFrom(c.name).selectAll().where(sql.ref(`${c.name}.id`), '=', String(values.id))
    if (decided === undefined && access.kind === 'where') read = read.where(access.where)
    const back = await (relations && !row ? read.select(relationCounts(relations)) : read).executeTakeFirst()
    if (!back) throw refused()
    row ??= back
  }
  const missing = relations ? relationErrors(row, relations) : {}
  if (Object.keys(missing).length) throw validationError(missing, 'Failed to create record.')
  return record ?? rowToRecord(c, row)
}
