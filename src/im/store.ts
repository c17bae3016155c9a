import type { Kysely } from 'kysely'
import { ApiError } from '../errors.ts'
import { nowDate } from '../records/model.ts'
import { systemRequest, type RecordJson } from '../records/record.ts'
import type { RecordsService } from '../records/records-service.ts'
import type { RecordsTransaction } from '../records/records-tx.ts'
import { generateRecordId } from '../records/fields/random.ts'
import type { SqlRouter } from '../sql/router.ts'
import { BLOCKS, CONVERSATIONS, MEMBERS, MESSAGES, type MessageKind, type Role } from '../records/collections/im-system.ts'
import type { ImConfig } from '../config/im.ts'
import type { MessageOut } from './protocol.ts'

// NB: `any` is Kysely's convention for a schema known only at run time.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Db = Kysely<any>

export interface Member {
  user: string
  role: Role
  muted: boolean
}

export interface MemberState extends Member {
  id: string
  lastRead: number
  lastDelivered: number
}

export interface SendInput {
  conversation: string
  clientId: string
  kind: MessageKind
  body: Record<string, unknown>
}

export interface SendResult {
  message: MessageOut
  duplicate: boolean
  /** The conversation's members when the message was stored (empty for a duplicate). */
  members: Member[]
}

/** The IM service's own request: it checks membership itself, then writes as the server. */
const IM = systemRequest('im')

/** A row of `_imMessages` as clients see it; a recalled message has no body. */
export function messageOut(r: Record<string, unknown>): MessageOut {
  const recalled = r.recalled === true || r.recalled === 1 || r.recalled === '1'
  let body = r.body
  if (typeof body === 'string') {
    try {
      body = JSON.parse(body)
    } catch {
      body = null
    }
  }
  return {
    id: String(r.id),
    conversation: String(r.conversation),
    seq: Number(r.seq),
    sender: String(r.sender),
    kind: String(r.kind),
    body: recalled ? {} : body,
    clientId: String(r.clientId),
    recalled,
    created: String(r.created),
  }
}

const bool = (v: unknown) => v === true || v === 1 || v === '1'

/**
 * The IM data in SQL, every write through the records service (one unit of work each), so rules,
 * hooks, events and realtime see them like any record. Reads go to the primary: a client that
 * resumes right after a send must see it.
 */
export class ImStore {
  constructor(
    private readonly records: RecordsService,
    private readonly sql: SqlRouter,
    private readonly config: ImConfig,
  ) {}

  private get db(): Db {
    return this.sql.writer().db
  }

  async members(conversation: string, db: Db = this.db): Promise<MemberState[]> {
    const rows = await db
      .selectFrom(MEMBERS)
      .select(['id', 'user', 'role', 'muted', 'lastRead', 'lastDelivered'])
      .where('conversation', '=', conversation)
      .limit(this.config.maxGroupMembers + 1)
      .execute()
    return rows.map((r: Record<string, unknown>) => ({
      id: String(r.id), user: String(r.user), role: r.role as Role, muted: bool(r.muted),
      lastRead: Number(r.lastRead ?? 0), lastDelivered: Number(r.lastDelivered ?? 0),
    }))
  }

  async conversation(id: string, db: Db = this.db): Promise<{ id: string; kind: 'direct' | 'group'; name: string; lastSeq: number } | undefined> {
    const r = await db.selectFrom(CONVERSATIONS).select(['id', 'kind', 'name', 'lastSeq']).where('id', '=', id).executeTakeFirst()
    return r && { id: String(r.id), kind: r.kind as 'direct' | 'group', name: String(r.name ?? ''), lastSeq: Number(r.lastSeq ?? 0) }
  }

  /** The member row of `user` in `conversation`, or a 404 (a conversation one is not in does not exist for them). */
  async memberOf(conversation: string, user: string, db: Db = this.db): Promise<MemberState> {
    const r = await db.selectFrom(MEMBERS).select(['id', 'user', 'role', 'muted', 'lastRead', 'lastDelivered']).where('conversation', '=', conversation).where('user', '=', user).executeTakeFirst()
    if (!r) throw new ApiError('not_found', "The conversation wasn't found.")
    return { id: String(r.id), user, role: r.role as Role, muted: bool(r.muted), lastRead: Number(r.lastRead ?? 0), lastDelivered: Number(r.lastDelivered ?? 0) }
  }

  async #countConversations(tx: RecordsTransaction, user: string): Promise<number> {
    const r = await tx.db.selectFrom(MEMBERS).select((eb) => eb.fn.countAll().as('n')).where('user', '=', user).executeTakeFirst()
    return Number(r?.n ?? 0)
  }

  async #addMember(tx: RecordsTransaction, conversation: string, user: string, role: Role): Promise<void> {
    if ((await this.#countConversations(tx, user)) >= this.config.maxConversations) {
      throw new ApiError('forbidden', 'A user is in too many conversations.', { user: { code: 'im_too_many_conversations', message: `At most ${this.config.maxConversations} conversations.` } })
    }
    await tx.create(MEMBERS, { conversation, user, role, lastRead: 0, lastDelivered: 0, muted: false }, IM)
  }

  /** Of `conversations`, those `user` is a member of, with their last seq (one query: a resume's first step). */
  async lastSeqs(user: string, conversations: string[]): Promise<Map<string, number>> {
    if (conversations.length === 0) return new Map()
    const rows = await this.db
      .selectFrom(`${MEMBERS} as m`)
      .innerJoin(`${CONVERSATIONS} as c`, 'c.id', 'm.conversation')
      .select(['c.id as id', 'c.lastSeq as lastSeq'])
      .where('m.user', '=', user)
      .where('m.conversation', 'in', conversations)
      .execute()
    return new Map(rows.map((r: Record<string, unknown>) => [String(r.id), Number(r.lastSeq ?? 0)]))
  }

  /** Which of `ids` share a conversation with `user` (whose presence `user` may see). */
  async contactsAmong(user: string, ids: string[]): Promise<Set<string>> {
    if (ids.length === 0) return new Set()
    const rows = await this.db
      .selectFrom(`${MEMBERS} as mine`)
      .innerJoin(`${MEMBERS} as theirs`, 'theirs.conversation', 'mine.conversation')
      .select('theirs.user as user')
      .distinct()
      .where('mine.user', '=', user)
      .where('theirs.user', 'in', ids)
      .execute()
    return new Set(rows.map((r: Record<string, unknown>) => String(r.user)))
  }

  /** Which of `ids` are records of the auth collection `collection`. */
  async usersIn(collection: string, ids: string[]): Promise<string[]> {
    const rows = await this.db.selectFrom(collection).select('id').where('id', 'in', ids).execute()
    return rows.map((r: Record<string, unknown>) => String(r.id))
  }

  /** The direct conversation of two users, made on first use (one per pair: its `uniqueKey`). */
  async direct(user: string, other: string): Promise<{ id: string; created: boolean }> {
    if (user === other) throw new ApiError('bad_request', 'A direct conversation needs another user.')
    const key = `direct:${[user, other].sort().join(':')}`
    const found = await this.db.selectFrom(CONVERSATIONS).select('id').where('uniqueKey', '=', key).executeTakeFirst()
    if (found) return { id: String(found.id), created: false }
    try {
      return await this.records.transaction(async (tx) => {
        const c = await tx.create(CONVERSATIONS, { kind: 'direct', uniqueKey: key, name: '', createdBy: user, lastSeq: 0 }, IM)
        await this.#addMember(tx, c.id, user, 'member')
        await this.#addMember(tx, c.id, other, 'member')
        return { id: c.id, created: true }
      })
    } catch (err) {
      // Both users opened it at once: the other transaction made it.
      const again = await this.db.selectFrom(CONVERSATIONS).select('id').where('uniqueKey', '=', key).executeTakeFirst()
      if (again) return { id: String(again.id), created: false }
      throw err
    }
  }

  /** A group owned by `owner` with `members` (ids, the owner added if missing). */
  async group(owner: string, name: string, members: string[]): Promise<string> {
    const all = [...new Set([owner, ...members])]
    if (all.length > this.config.maxGroupMembers) throw new ApiError('bad_request', `A group has at most ${this.config.maxGroupMembers} members.`)
    const id = generateRecordId()
    await this.records.transaction(async (tx) => {
      await tx.create(CONVERSATIONS, { id, kind: 'group', uniqueKey: `group:${id}`, name, createdBy: owner, lastSeq: 0 }, IM)
      for (const user of all) await this.#addMember(tx, id, user, user === owner ? 'owner' : 'member')
    })
    return id
  }

  /** Adds users to a group (owner or admin only). Returns those added. */
  async addMembers(by: string, conversation: string, users: string[]): Promise<string[]> {
    return this.records.transaction(async (tx) => {
      const c = await this.#lockGroup(tx, conversation)
      const me = await this.memberOf(conversation, by, tx.db)
      if (c.kind !== 'group' || me.role === 'member') throw new ApiError('forbidden', 'Only a group owner or admin may add members.')
      const present = new Set((await this.members(conversation, tx.db)).map((m) => m.user))
      const added = [...new Set(users)].filter((u) => !present.has(u))
      if (present.size + added.length > this.config.maxGroupMembers) throw new ApiError('bad_request', `A group has at most ${this.config.maxGroupMembers} members.`)
      for (const user of added) await this.#addMember(tx, conversation, user, 'member')
      return added
    })
  }

  /** Removes a member: oneself (leaving), or anyone but the owner by an owner or admin. */
  async removeMember(by: string, conversation: string, user: string): Promise<void> {
    await this.records.transaction(async (tx) => {
      const c = await this.#lockGroup(tx, conversation)
      const me = await this.memberOf(conversation, by, tx.db)
      const target = await this.memberOf(conversation, user, tx.db)
      if (c.kind !== 'group') throw new ApiError('forbidden', 'Members of a direct conversation cannot change.')
      if (by !== user && (me.role === 'member' || target.role === 'owner')) throw new ApiError('forbidden', 'Only a group owner or admin may remove members.')
      await tx.delete(MEMBERS, target.id, IM)
    })
  }

  /** Takes the conversation's row lock (a no-op update) so membership changes of one group run one at a time. */
  async #lockGroup(tx: RecordsTransaction, conversation: string): Promise<{ kind: string }> {
    await tx.db.updateTable(CONVERSATIONS).set((eb) => ({ lastSeq: eb.ref('lastSeq') })).where('id', '=', conversation).execute()
    const c = await this.conversation(conversation, tx.db)
    if (!c) throw new ApiError('not_found', "The conversation wasn't found.")
    return c
  }

  /** The stored message with this (conversation, sender, clientId), if any: what a retried send is answered with. */
  async existing(conversation: string, sender: string, clientId: string): Promise<MessageOut | undefined> {
    const r = await this.db.selectFrom(MESSAGES).selectAll().where('conversation', '=', conversation).where('sender', '=', sender).where('clientId', '=', clientId).executeTakeFirst()
    return r && messageOut(r)
  }

  /**
   * Stores one message and returns it with the members it goes to. A message with the same
   * (conversation, sender, clientId) as a stored one is that one (`duplicate`), so a retry after
   * a lost ack never makes a second. The seq is taken inside the write transaction by
   * incrementing the conversation's `lastSeq` (a row lock on PostgreSQL and MariaDB, the one
   * writer on SQLite), so concurrent senders on any node get consecutive seqs, and a failed insert
   * rolls the increment back with it: no gaps.
   */
  async send(sender: string, input: SendInput): Promise<SendResult> {
    try {
      return await this.records.transaction(async (tx) => {
        // The members and the conversation's kind, with (for a direct one) whether the other member blocks the sender: one query.
        const rows = await tx.db
          .selectFrom(`${MEMBERS} as m`)
          .innerJoin(`${CONVERSATIONS} as c`, 'c.id', 'm.conversation')
          .leftJoin(`${BLOCKS} as b`, (j) => j.onRef('b.user', '=', 'm.user').on('b.blocked', '=', sender).on('c.kind', '=', 'direct'))
          .select(['m.user as user', 'm.role as role', 'm.muted as muted', 'b.id as block'])
          .where('m.conversation', '=', input.conversation)
          .limit(this.config.maxGroupMembers + 1)
          .execute()
        const members: Member[] = rows.map((r: Record<string, unknown>) => ({ user: String(r.user), role: r.role as Role, muted: bool(r.muted) }))
        if (!members.some((m) => m.user === sender)) throw new ApiError('not_found', "The conversation wasn't found.")
        if (rows.some((r: Record<string, unknown>) => r.block != null && r.user !== sender)) throw new ApiError('forbidden', 'You cannot send messages to this user.')
        // `updated` too: conversation lists sort on it (the latest message first).
        const bump = tx.db.updateTable(CONVERSATIONS).set((eb) => ({ lastSeq: eb('lastSeq', '+', 1), updated: nowDate() })).where('id', '=', input.conversation)
        const row = this.sql.primary.capabilities.returning
          ? await bump.returning('lastSeq').executeTakeFirstOrThrow()
          : (await bump.execute(), await tx.db.selectFrom(CONVERSATIONS).select('lastSeq').where('id', '=', input.conversation).executeTakeFirstOrThrow())
        const seq = Number(row.lastSeq)
        const record = await tx.create(MESSAGES, { conversation: input.conversation, seq, sender, kind: input.kind, body: input.body, clientId: input.clientId, recalled: false }, IM)
        // The sender has read its own message. NB: a plain UPDATE in the same transaction: member
        // state changes of the sender are not record events (one per message would double the writes).
        await tx.db.updateTable(MEMBERS).set({ lastRead: seq, lastDelivered: seq }).where('conversation', '=', input.conversation).where('user', '=', sender).where('lastRead', '<', seq).execute()
        return { message: messageOut(record as RecordJson), duplicate: false, members }
      })
    } catch (err) {
      // The same clientId sent twice at once (two connections, two nodes): the other one won.
      if (err instanceof ApiError && err.code === 'validation_failed') {
        const again = await this.existing(input.conversation, sender, input.clientId)
        if (again) return { message: again, duplicate: true, members: [] }
      }
      throw err
    }
  }

  /** Messages after `afterSeq`, in order, at most `limit`. */
  async after(conversation: string, afterSeq: number, limit: number): Promise<MessageOut[]> {
    const rows = await this.db.selectFrom(MESSAGES).selectAll().where('conversation', '=', conversation).where('seq', '>', afterSeq).orderBy('seq', 'asc').limit(limit).execute()
    return rows.map(messageOut)
  }

  /** Messages before `beforeSeq` (newest first), at most `limit`: history pages. */
  async before(conversation: string, beforeSeq: number, limit: number): Promise<MessageOut[]> {
    const rows = await this.db.selectFrom(MESSAGES).selectAll().where('conversation', '=', conversation).where('seq', '<', beforeSeq).orderBy('seq', 'desc').limit(limit).execute()
    return rows.map(messageOut)
  }

  /**
   * Moves a member's `lastRead` or `lastDelivered` forward to `seq` (never back, never past the
   * last message); false when nothing changed. The row is locked first (a no-op update), so two
   * receipts at once cannot move it back.
   */
  async mark(conversation: string, user: string, kind: 'read' | 'delivered', seq: number): Promise<boolean> {
    const column = kind === 'read' ? 'lastRead' : 'lastDelivered'
    return this.records.transaction(async (tx) => {
      await tx.db.updateTable(MEMBERS).set((eb) => ({ [column]: eb.ref(column) })).where('conversation', '=', conversation).where('user', '=', user).execute()
      const me = await this.memberOf(conversation, user, tx.db)
      const c = await this.conversation(conversation, tx.db)
      const target = Math.min(seq, c?.lastSeq ?? 0)
      if (target <= me[column]) return false
      const values: Record<string, number> = { [column]: target }
      if (kind === 'read' && me.lastDelivered < target) values.lastDelivered = target
      await tx.update(MEMBERS, me.id, values, IM)
      return true
    })
  }

  async setMuted(conversation: string, user: string, muted: boolean): Promise<void> {
    const me = await this.memberOf(conversation, user)
    await this.records.update(MEMBERS, me.id, { muted }, IM)
  }

  /**
   * Recalls a message: its sender within `recallSeconds`, or a group's owner or admin at any time.
   * The row stays (the seq keeps its place) with `recalled` set and its body emptied.
   */
  async recall(by: string, conversation: string, seq: number): Promise<void> {
    const me = await this.memberOf(conversation, by)
    const r = await this.db.selectFrom(MESSAGES).selectAll().where('conversation', '=', conversation).where('seq', '=', seq).executeTakeFirst()
    if (!r) throw new ApiError('not_found', "The message wasn't found.")
    const m = messageOut(r)
    if (m.recalled) return
    const moderator = me.role !== 'member'
    if (!moderator) {
      if (m.sender !== by) throw new ApiError('forbidden', 'Only the sender may recall this message.')
      const age = Date.now() - Date.parse(m.created.replace(' ', 'T'))
      if (this.config.recallSeconds === 0 || age > this.config.recallSeconds * 1000) throw new ApiError('forbidden', 'The message is too old to be recalled.')
    }
    await this.records.update(MESSAGES, m.id, { recalled: true, body: {} }, IM)
  }

  /** The conversations of `user`, the latest message (or change) first, with unread counts (messages after their `lastRead`). */
  async conversationsOf(user: string, page: number, perPage: number): Promise<Record<string, unknown>[]> {
    const rows = await this.db
      .selectFrom(`${MEMBERS} as m`)
      .innerJoin(`${CONVERSATIONS} as c`, 'c.id', 'm.conversation')
      .select(['c.id as id', 'c.kind as kind', 'c.name as name', 'c.lastSeq as lastSeq', 'c.updated as updated', 'm.role as role', 'm.lastRead as lastRead', 'm.lastDelivered as lastDelivered', 'm.muted as muted'])
      .where('m.user', '=', user)
      .orderBy('c.updated', 'desc')
      .orderBy('c.id')
      .limit(perPage)
      .offset((page - 1) * perPage)
      .execute()
    return rows.map((r: Record<string, unknown>) => ({
      id: r.id, kind: r.kind, name: r.name ?? '', role: r.role, muted: bool(r.muted),
      lastSeq: Number(r.lastSeq ?? 0), lastRead: Number(r.lastRead ?? 0), lastDelivered: Number(r.lastDelivered ?? 0),
      unread: Math.max(0, Number(r.lastSeq ?? 0) - Number(r.lastRead ?? 0)),
    }))
  }
}
