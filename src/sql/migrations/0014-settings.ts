import type { Kysely, Migration } from 'kysely'

/** The `_params` key of the settings a superuser changed (src/settings/settings-store.ts), PocketBase's key. */
export const SETTINGS_KEY = 'settings'

/**
 * The settings row, empty (`{}`: every setting from the configuration), so that a change is
 * always an UPDATE of one row and two nodes saving at once never race to insert it.
 */
export const settingsMigration: Migration = {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async up(db: Kysely<any>) {
    const now = new Date().toISOString().replace('T', ' ')
    const existing = await db.selectFrom('_params').select('id').where('id', '=', SETTINGS_KEY).executeTakeFirst()
    if (!existing) await db.insertInto('_params').values({ id: SETTINGS_KEY, value: '{}', created: now, updated: now }).execute()
  },
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async down(db: Kysely<any>) {
    await db.deleteFrom('_params').where('id', '=', SETTINGS_KEY).execute()
  },
}
