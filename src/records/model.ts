/**
 * Collections and fields: the shapes PocketBase (v0.23+) uses on the wire, which Plinth stores
 * and serves unchanged so PocketBase's SDKs and exported schemas work as they are.
 *
 * Storage conventions, the same on every SQL engine (`columns.ts` maps a field to its storage kind,
 * each engine's dialect in `src/sql/<engine>/` writes the DDL):
 * - A collection is a table named exactly like the collection; a field is a column named exactly
 *   like the field. Identifiers are always quoted by Kysely (`sql.ref` / `sql.id`), never spliced.
 * - `id`: text primary key (15 chars `[a-z0-9]` unless given).
 * - text, email, url, editor, password (hash), single select, single relation, single file:
 *   text, NOT NULL, '' when empty.
 * - number: double, NOT NULL, 0 when empty. bool: boolean (0/1 on SQLite and MySQL), NOT NULL.
 * - date, autodate: text `YYYY-MM-DD HH:MM:SS.sssZ` (UTC), '' when empty; sorts as time.
 * - multi select / relation / file (maxSelect > 1): a JSON array of strings, NOT NULL, '[]' when empty.
 * - json: JSON (SQLite text, PostgreSQL jsonb, MySQL/MariaDB JSON), NULL when empty.
 * - geoPoint: JSON `{"lon":x,"lat":y}` in the json column type, NOT NULL, `{"lon":0,"lat":0}` when empty.
 */

export type CollectionType = 'base' | 'auth' | 'view'

export type FieldType =
  | 'text'
  | 'number'
  | 'bool'
  | 'email'
  | 'url'
  | 'editor'
  | 'date'
  | 'autodate'
  | 'select'
  | 'json'
  | 'relation'
  | 'file'
  | 'password'
  | 'geoPoint'

interface FieldBase {
  id: string
  name: string
  system: boolean
  hidden: boolean
  presentable: boolean
  /**
   * Plinth's mark (text, email, number and json fields): with `keys.requireEncryption` the value
   * must arrive as compact JWE (api/sensitive.ts). Present only when set, so definitions without
   * it keep PocketBase's exact shape.
   */
  sensitive?: true
  /**
   * Plinth's mark (text, email, url, editor and json fields): values are stored AES-256-GCM
   * encrypted with `keys.atRestKey` and decrypted on read (records/fields/at-rest.ts); such a field
   * cannot be filtered, sorted or indexed. Present only when set, like `sensitive`.
   */
  encrypt?: true
}

export interface TextField extends FieldBase {
  type: 'text'
  required: boolean
  /** Min/max length in characters; 0 = no limit (max defaults to 5000 when 0, like PocketBase). */
  min: number
  max: number
  /** A regular expression the value must match when not empty. */
  pattern: string
  /** A pattern for generated values when none is given (used by `id`). */
  autogeneratePattern: string
  primaryKey: boolean
}
export interface NumberField extends FieldBase {
  type: 'number'
  required: boolean
  min: number | null
  max: number | null
  onlyInt: boolean
}
export interface BoolField extends FieldBase {
  type: 'bool'
  required: boolean
}
export interface EmailField extends FieldBase {
  type: 'email'
  required: boolean
  exceptDomains: string[] | null
  onlyDomains: string[] | null
}
export interface UrlField extends FieldBase {
  type: 'url'
  required: boolean
  exceptDomains: string[] | null
  onlyDomains: string[] | null
}
export interface EditorField extends FieldBase {
  type: 'editor'
  required: boolean
  /** Bytes; 0 = default (5 MiB). */
  maxSize: number
  convertURLs: boolean
}
export interface DateField extends FieldBase {
  type: 'date'
  required: boolean
  /** '' or a date; values must fall inside. */
  min: string
  max: string
}
export interface AutodateField extends FieldBase {
  type: 'autodate'
  onCreate: boolean
  onUpdate: boolean
}
export interface SelectField extends FieldBase {
  type: 'select'
  required: boolean
  values: string[]
  /** 1 (or 0) = single value stored as text; more = JSON array. */
  maxSelect: number
}
export interface JsonField extends FieldBase {
  type: 'json'
  required: boolean
  /** Bytes; 0 = default (1 MiB). */
  maxSize: number
}
export interface RelationField extends FieldBase {
  type: 'relation'
  required: boolean
  /** The related collection's id. */
  collectionId: string
  cascadeDelete: boolean
  minSelect: number
  /** 1 (or 0) = single id stored as text; more = JSON array of ids. */
  maxSelect: number
}
export interface FileField extends FieldBase {
  type: 'file'
  required: boolean
  maxSelect: number
  maxSize: number
  mimeTypes: string[]
  thumbs: string[]
  protected: boolean
}
/** A point on Earth (PocketBase v0.27): `{lon, lat}` in degrees; `{0, 0}` is "no value". */
export interface GeoPointField extends FieldBase {
  type: 'geoPoint'
  required: boolean
}
export interface PasswordField extends FieldBase {
  type: 'password'
  required: boolean
  min: number
  max: number
  pattern: string
  cost: number
}

export type Field =
  | TextField
  | NumberField
  | BoolField
  | EmailField
  | UrlField
  | EditorField
  | DateField
  | AutodateField
  | SelectField
  | JsonField
  | RelationField
  | FileField
  | PasswordField
  | GeoPointField

/** `null` = superusers only, `''` = anyone, otherwise a filter expression that must match. */
export type Rule = string | null

export interface TokenConfig {
  /** Seconds. */
  duration: number
  /** HS256 secret for this token kind (never sent to clients: masked on the API). */
  secret: string
}

export interface AuthOptions {
  authRule: Rule
  manageRule: Rule
  passwordAuth: { enabled: boolean; identityFields: string[] }
  authToken: TokenConfig
  passwordResetToken: TokenConfig
  emailChangeToken: TokenConfig
  verificationToken: TokenConfig
  fileToken: TokenConfig
  /** OAuth2 sign-in; providers are read through `storedProviders` (collections/oauth2-options.ts). */
  oauth2: { enabled: boolean; providers: unknown[]; mappedFields: Record<string, string> }
  /** A second, different method is required within `duration` seconds; `rule` ('' = everyone) picks whom. */
  mfa: { enabled: boolean; duration: number; rule: string }
  /** Email one-time passwords: `length` digits, valid `duration` seconds. */
  otp: { enabled: boolean; duration: number; length: number; emailTemplate: EmailTemplate }
  /** The "login from a new location" mail. */
  authAlert: { enabled: boolean; emailTemplate: EmailTemplate }
  /**
   * Plinth's own: sign-in with a code sent by SMS to the record's `phone` field (E.164). `length`
   * digits, valid `duration` seconds; `allowSignUp` creates the record on a number's first sign-in.
   */
  phoneAuth: { enabled: boolean; allowSignUp: boolean; duration: number; length: number }
}

/** A mail's subject and HTML body with PocketBase's `{APP_NAME}`-style placeholders. */
export interface EmailTemplate {
  subject: string
  body: string
}

/** One collection as stored in `_collections` and served by `/api/collections` (same JSON). */
export interface Collection {
  id: string
  name: string
  type: CollectionType
  system: boolean
  fields: Field[]
  /** `CREATE [UNIQUE] INDEX name ON table (cols)` statements, PocketBase's form. */
  indexes: string[]
  listRule: Rule
  viewRule: Rule
  createRule: Rule
  updateRule: Rule
  deleteRule: Rule
  created: string
  updated: string
  /** view collections only: the SELECT that defines it. */
  viewQuery?: string
}

/** An auth collection carries its auth options at the top level, as PocketBase's JSON does. */
export type AuthCollection = Collection & AuthOptions & { type: 'auth' }

export function isAuthCollection(c: Collection): c is AuthCollection {
  return c.type === 'auth'
}

/** A field stores several values (a JSON array) rather than one. */
export function isMulti(field: Field): boolean {
  return (field.type === 'select' || field.type === 'relation' || field.type === 'file') && field.maxSelect > 1
}

export function findField(collection: Collection, name: string): Field | undefined {
  return collection.fields.find((f) => f.name === name)
}

/** Current time in PocketBase's date form: `2024-01-02 03:04:05.678Z`. */
export function nowDate(): string {
  return toDbDate(new Date())
}

export function toDbDate(d: Date): string {
  return d.toISOString().replace('T', ' ')
}
