import type { Kysely, Migration } from 'kysely'
import type { SqlDialect } from '../../sql/dialect.ts'
import type { Collection, Field } from '../model.ts'
import { assignFieldIds, blankField } from '../fields/definition.ts'
import { defaultCollectionId, newCollection } from './defaults.ts'
import { createRecordTable, dropRecordTable } from './schema-sync.ts'
import { collectionToRow } from './serialize.ts'

/**
 * IM data as system collections ('0012-im'), so the admin console and the records API browse them
 * under rules like any other: a member lists and views its conversations, their members and
 * messages; blocks are the blocker's own (created and deleted through the records API). Everything
 * else is written by the IM service (src/im/store.ts) through the records service.
 *
 * - `_imConversations`: `kind` direct|group, `uniqueKey` (`direct:A:B` with the two user ids sorted, so a
 *   pair has one direct conversation; `group:ID` for groups), `lastSeq` (the last message's seq).
 * - `_imMembers`: `conversation`, `user` (an auth record id), `role` owner|admin|member, `lastRead`
 *   and `lastDelivered` (seqs), `muted`.
 * - `_imMessages`: `conversation`, `seq` (1, 2, 3... per conversation, no gaps), `sender`, `kind`
 *   text|image|file|custom, `body` (JSON), `clientId` (the sender's id for dedupe), `recalled`.
 * - `_imBlocks`: `user` blocks `blocked` (no direct messages from them).
 */
export const CONVERSATIONS = '_imConversations'
export const MEMBERS = '_imMembers'
export const MESSAGES = '_imMessages'
export const BLOCKS = '_imBlocks'

export const MESSAGE_KINDS = ['text', 'image', 'file', 'custom'] as const
export type MessageKind = (typeof MESSAGE_KINDS)[number]
export const ROLES = ['owner', 'admin', 'member'] as const
export type Role = (typeof ROLES)[number]

/** A member of the row's conversation (`conversation` names it): one `_imMembers` row for the caller. */
const MEMBER_OF = (conversationRef: string) =>
  `@request.auth.id != '' && @collection.${MEMBERS}:me.conversation ?= ${conversationRef} && @collection.${MEMBERS}:me.user ?= @request.auth.id`

function field(type: Parameters<typeof blankField>[0], name: string, extra: Record<string, unknown> = {}): Field {
  return { ...blankField(type, name, extra), system: true }
}

function collection(name: string, fields: Field[], indexes: [string, boolean, string][]): Collection {
  const c = newCollection('base', name, defaultCollectionId('base', name))
  c.system = true
  c.fields.push(...fields, field('autodate', 'created', { onCreate: true }), field('autodate', 'updated', { onCreate: true, onUpdate: true }))
  c.indexes = indexes.map(([idx, unique, cols]) => `CREATE ${unique ? 'UNIQUE ' : ''}INDEX \`${idx}\` ON \`${name}\` (${cols})`)
  assignFieldIds(c.fields)
  return c
}

const conversationRef = (name: string) =>
  field('relation', name, { required: true, collectionId: defaultCollectionId('base', CONVERSATIONS), cascadeDelete: true, maxSelect: 1 })

export function imCollections(): Collection[] {
  const conversations = collection(
    CONVERSATIONS,
    [
      field('select', 'kind', { required: true, values: ['direct', 'group'], maxSelect: 1 }),
      field('text', 'uniqueKey', { required: true, max: 100 }),
      field('text', 'name', { max: 200 }),
      field('text', 'createdBy', { max: 100 }),
      field('number', 'lastSeq', { onlyInt: true, min: 0 }),
    ],
    [['idx_imConversations_uniqueKey', true, '`uniqueKey`']],
  )
  conversations.listRule = conversations.viewRule = MEMBER_OF('id')
  const members = collection(
    MEMBERS,
    [
      conversationRef('conversation'),
      field('text', 'user', { required: true, max: 100 }),
      field('select', 'role', { required: true, values: [...ROLES], maxSelect: 1 }),
      field('number', 'lastRead', { onlyInt: true, min: 0 }),
      field('number', 'lastDelivered', { onlyInt: true, min: 0 }),
      field('bool', 'muted'),
    ],
    [
      ['idx_imMembers_conversation_user', true, '`conversation`, `user`'],
      ['idx_imMembers_user', false, '`user`'],
    ],
  )
  members.listRule = members.viewRule = `user = @request.auth.id || (${MEMBER_OF('conversation')})`
  const messages = collection(
    MESSAGES,
    [
      conversationRef('conversation'),
      field('number', 'seq', { required: true, onlyInt: true, min: 1 }),
      field('text', 'sender', { required: true, max: 100 }),
      field('select', 'kind', { required: true, values: [...MESSAGE_KINDS], maxSelect: 1 }),
      field('json', 'body', { maxSize: 1 << 20 }),
      field('text', 'clientId', { required: true, max: 100 }),
      field('bool', 'recalled'),
    ],
    [
      ['idx_imMessages_conversation_seq', true, '`conversation`, `seq`'],
      ['idx_imMessages_dedupe', true, '`conversation`, `sender`, `clientId`'],
    ],
  )
  messages.listRule = messages.viewRule = MEMBER_OF('conversation')
  const blocks = collection(
    BLOCKS,
    [field('text', 'user', { required: true, max: 100 }), field('text', 'blocked', { required: true, max: 100 })],
    [['idx_imBlocks_user_blocked', true, '`user`, `blocked`']],
  )
  blocks.listRule = blocks.viewRule = blocks.deleteRule = "@request.auth.id != '' && user = @request.auth.id"
  blocks.createRule = "@request.auth.id != '' && @request.body.user = @request.auth.id && @request.body.blocked != @request.auth.id"
  return [conversations, members, messages, blocks]
}

/** '0012-im': the four tables and their `_collections` rows. */
export function imMigration(dialect: SqlDialect): Migration {
  return {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    async up(db: Kysely<any>) {
      for (const c of imCollections()) {
        await createRecordTable(db, dialect, c)
        await db.insertInto('_collections').values(collectionToRow(c)).execute()
      }
    },
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    async down(db: Kysely<any>) {
      for (const c of imCollections().reverse()) {
        await db.deleteFrom('_collections').where('name', '=', c.name).execute()
        await dropRecordTable(db, c)
      }
    },
  }
}
