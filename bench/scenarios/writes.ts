/**
 * Writes as a logged-in user: create a record under a `createRule` that checks the new record's
 * owner, and update one field of an own record under an owner `updateRule`. Each on SQLite,
 * PostgreSQL and MariaDB against bare Fastify doing the same INSERT / UPDATE (after loading the
 * auth record, as the read reference does) on the same database.
 */
import { ALL_ENGINES, asAdmin, createUsers, ENGINE_LABEL, ENGINE_NAME, filler, freshDb, once, OWNED_TEXT_FIELDS, type Engine } from '../lib/seed.ts'
import { bareAndPlinth } from '../lib/targets.ts'
import type { Scenario } from '../lib/types.ts'

interface Seed {
  dbUrl: string
  token: string
  userId: string
  noteId: string
}

export const CREATE_RULE = '@request.auth.id != "" && owner = @request.auth.id'
export const OWNER_RULE = 'owner = @request.auth.id'

/** A `notes` collection with owner rules, two users and one note each. */
export const seed = once(async (engine: Engine): Promise<Seed> => {
  const dbUrl = await freshDb(engine)
  return asAdmin(dbUrl, async (admin) => {
    await admin.call('POST', '/api/collections', {
      name: 'notes',
      listRule: OWNER_RULE,
      viewRule: OWNER_RULE,
      createRule: CREATE_RULE,
      updateRule: OWNER_RULE,
      fields: OWNED_TEXT_FIELDS,
      indexes: ['CREATE INDEX idx_notes_owner ON notes (owner)'],
    })
    const { ids, first } = await createUsers(admin, ['ann', 'bob'])
    const [noteId] = await admin.createMany('notes', ids.map((owner) => ({ title: 'first', body: filler(200), owner })))
    return { dbUrl, token: first.token, userId: first.id, noteId: noteId! }
  })
})

const json = (token: string) => ({ authorization: token, 'content-type': 'application/json' })
const create = (s: Seed) => ({
  method: 'POST' as const,
  path: '/api/collections/notes/records',
  headers: json(s.token),
  body: JSON.stringify({ title: 'a new note', body: filler(200), owner: s.userId }),
})
const update = (s: Seed) => ({
  method: 'PATCH' as const,
  path: `/api/collections/notes/records/${s.noteId}`,
  headers: json(s.token),
  body: JSON.stringify({ title: 'an edited title' }),
})

export default ALL_ENGINES.flatMap((engine) => [
  {
    name: `records-create-${ENGINE_LABEL[engine]}`,
    description: `POST a record as its owner, createRule \`${CREATE_RULE}\`, ${ENGINE_NAME[engine]}`,
    reference: 'fastify-bare',
    targets: bareAndPlinth({ engine, seed, server: 'fastify-writes.mjs', args: (s) => [s.userId], does: 'auth record load, INSERT, read back', request: create }),
  },
  {
    name: `records-update-${ENGINE_LABEL[engine]}`,
    description: `PATCH one field of an own record, updateRule \`${OWNER_RULE}\`, ${ENGINE_NAME[engine]}`,
    reference: 'fastify-bare',
    targets: bareAndPlinth({ engine, seed, server: 'fastify-writes.mjs', args: (s) => [s.userId], does: 'auth record load, rule-filtered load, UPDATE', request: update }),
  },
]) satisfies Scenario[]
