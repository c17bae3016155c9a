import type { Kysely, Migration } from 'kysely'
import type { SqlDialect } from '../../sql/dialect.ts'
import type { Collection, Field } from '../model.ts'
import { assignFieldIds, blankField } from '../fields/definition.ts'
import { defaultCollectionId, newCollection } from './defaults.ts'
import { createRecordTable, dropRecordTable } from './schema-sync.ts'
import { collectionToRow } from './serialize.ts'

/**
 * PocketBase's auth system collections (its first migration makes them with `_superusers`; Plinth
 * adds them in '0007-auth-system' on databases made before). They are ordinary base collections
 * in the registry, flagged `system`, so the records API, rules and realtime treat them like
 * PocketBase does: the owner may list and view their rows (and delete `_authOrigins` and
 * `_externalAuths` rows), everything else is superusers only.
 *
 * - `_otps`: one-time passwords (email codes, and SMS codes from the sms feature). `password` is
 *   hashed by the records layer like any password field; `sentTo` says where it went.
 * - `_mfas`: a first auth method passed (`method`) while MFA waits for a second one.
 * - `_externalAuths`: OAuth2 identities linked to a record (`provider`, `providerId`).
 * - `_authOrigins`: fingerprints a record has signed in from (the new-login alert).
 */

export const OTPS = '_otps'
export const MFAS = '_mfas'
export const EXTERNAL_AUTHS = '_externalAuths'
export const AUTH_ORIGINS = '_authOrigins'

const OWNER_RULE = "@request.auth.id != '' && recordRef = @request.auth.id && collectionRef = @request.auth.collectionId"

function text(name: string, required: boolean, hidden = false): Field {
  return { ...blankField('text', name), system: true, required, hidden } as Field
}

function autodate(name: string, onUpdate: boolean): Field {
  return { ...blankField('autodate', name), system: true, onCreate: true, onUpdate } as Field
}

function systemCollection(name: string, fields: Field[], indexes: [string, boolean, string][], deletable: boolean): Collection {
  const c = newCollection('base', name, defaultCollectionId('base', name))
  c.system = true
  c.listRule = OWNER_RULE
  c.viewRule = OWNER_RULE
  if (deletable) c.deleteRule = OWNER_RULE
  c.fields.push(
    text('collectionRef', true),
    text('recordRef', true),
    ...fields,
    autodate('created', false),
    autodate('updated', true),
  )
  c.indexes = indexes.map(([idx, unique, cols]) => `CREATE ${unique ? 'UNIQUE ' : ''}INDEX \`${idx}\` ON \`${name}\` (${cols})`)
  assignFieldIds(c.fields)
  return c
}

/** The four collections exactly as PocketBase's first migration defines them (fields, indexes, rules). */
export function authSystemCollections(): Collection[] {
  return [
    systemCollection(MFAS, [text('method', true)], [['idx_mfas_collectionRef_recordRef', false, 'collectionRef,recordRef']], false),
    systemCollection(
      OTPS,
      [
        // PocketBase hashes OTPs with a low bcrypt cost; `cost` is kept for the schema, Plinth's hash is scrypt.
        { ...blankField('password', 'password'), system: true, hidden: true, required: true, cost: 8 } as Field,
        text('sentTo', false, true),
      ],
      [['idx_otps_collectionRef_recordRef', false, 'collectionRef, recordRef']],
      false,
    ),
    systemCollection(
      EXTERNAL_AUTHS,
      [text('provider', true), text('providerId', true)],
      [
        ['idx_externalAuths_record_provider', true, 'collectionRef, recordRef, provider'],
        ['idx_externalAuths_collection_provider', true, 'collectionRef, provider, providerId'],
      ],
      true,
    ),
    systemCollection(AUTH_ORIGINS, [text('fingerprint', true)], [['idx_authOrigins_unique_pairs', true, 'collectionRef, recordRef, fingerprint']], true),
  ]
}

/**
 * '0007-auth-system': the four tables and their `_collections` rows. A collection of the same
 * name made by a user before this migration is an error the operator must resolve (renaming it),
 * not something to overwrite.
 */
export function authSystemMigration(dialect: SqlDialect): Migration {
  return {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    async up(db: Kysely<any>) {
      for (const c of authSystemCollections()) {
        await createRecordTable(db, dialect, c)
        await db.insertInto('_collections').values(collectionToRow(c)).execute()
      }
    },
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    async down(db: Kysely<any>) {
      for (const c of authSystemCollections().reverse()) {
        await db.deleteFrom('_collections').where('name', '=', c.name).execute()
        await dropRecordTable(db, c)
      }
    },
  }
}
