/**
 * Field values: API input -> column values (`prepareRecord`), and rows -> API JSON (`rowToRecord`).
 * OWNER: collections (src/records/fields/).
 *
 * `prepareRecord(collection, input, existing, ctx)` validates and converts submitted values with
 * PocketBase's rules and error codes: every field type's options, the `field+` / `+field` /
 * `field-` modifiers (numbers: `field+`/`field-`; select, relation, file: all three), `field:autogenerate`,
 * autodate on create/update, id generation (`autogeneratePattern`) and the no-id-change rule,
 * password hashing (`hashPassword`), `tokenKey` renewal on a password change, and the auth form
 * checks (`passwordConfirm`, `oldPassword`, `email`/`verified` for non-managers). Unknown keys and
 * `__proto__`/`constructor`/`prototype` are ignored. `existing` is the current record (raw API
 * form, as `rowToRecord` returns it) on update, undefined on create. Relation ids are NOT checked
 * against the database here (the records API does that). File values: strings are names the
 * record already has; new uploads are `UploadedFile` objects (see file-values.ts).
 * It also returns `body`: what API rules see as `@request.body` (modifiers resolved under the
 * plain field name, hidden fields dropped for non-superusers), PocketBase's `ReplaceModifiers`.
 * Casting is linear in the input (100k ids de-duplicate in one pass); json values deeper than
 * 64 levels (or the engine's `maxJsonDepth`) and NUL characters in strings fail validation.
 */
export { prepareRecord } from './prepare.ts'
export { rowToRecord, columnToApi } from './row.ts'
export { sealValues } from './at-rest.ts'
export type { PrepareContext, PreparedRecord } from './types.ts'
export { isUploadedFile, type UploadedFile } from './file-values.ts'
export { generateRecordId, randomString, randomFromPattern } from './random.ts'
