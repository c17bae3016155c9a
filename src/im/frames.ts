import { ApiError } from '../errors.ts'
import { fileKey } from '../files/record-files.ts'
import type { ImConnection } from './connection.ts'
import type { Im } from './hub.ts'
import type { ClientFrame, FrameOf, ServerFrame } from './protocol.ts'

type ErrorFrame = Extract<ServerFrame, { type: 'error' }>

function errorFrame(err: unknown, ref?: string): ErrorFrame {
  if (err instanceof ApiError) return { type: 'error', ref, status: err.status, message: err.message, data: err.data }
  return { type: 'error', ref, status: 500, message: 'Something went wrong while processing your request.', data: {} }
}

const invalid = (field: string, message: string) => new ApiError('validation_failed', 'Failed to validate the message.', { [field]: { code: 'validation_invalid_value', message } })

/** `COLLECTION/RECORD/FILENAME`, alone or at the end of a `/api/files/...` URL: a file Plinth stores. */
const FILE_REF = /^(?:(?:https?:\/\/[^/]+)?\/api\/files\/)?([\w-]+)\/([\w-]+)\/([\w][\w.-]*)$/

/**
 * What each kind's body must hold: `text` a non-empty `text`; `image` and `file` a `file`, and
 * optional `name`, `size`, `mime`, `width`, `height`; `custom` any JSON object. A `file` that names
 * a stored file (`COLLECTION/RECORD/FILENAME` or its `/api/files/...` URL, what a record upload
 * gave the client) must exist in the files port; any other https URL (a CDN's) is taken as is.
 */
async function checkBody(im: Im, kind: string, body: Record<string, unknown>): Promise<void> {
  if (kind === 'text') {
    if (typeof body.text !== 'string' || body.text.length === 0) throw invalid('body', 'A text message needs a non-empty "text".')
  } else if (kind === 'image' || kind === 'file') {
    const file = body.file
    if (typeof file !== 'string' || file.length === 0 || file.length > 2048) throw invalid('body', `An ${kind} message needs "file": an uploaded file's path or URL.`)
    for (const k of ['name', 'mime'] as const) if (body[k] !== undefined && typeof body[k] !== 'string') throw invalid('body', `"${k}" must be a string.`)
    for (const k of ['size', 'width', 'height'] as const) if (body[k] !== undefined && typeof body[k] !== 'number') throw invalid('body', `"${k}" must be a number.`)
    const ref = FILE_REF.exec(file.split('?')[0]!)
    if (ref) {
      const c = im.deps.registry.get(ref[1]!)
      if (!c || !(await im.deps.files.stat(fileKey(c.id, ref[2]!, ref[3]!)))) throw invalid('body', 'The file was not found.')
    } else if (!/^https:\/\/[^\s]+$/.test(file)) {
      throw invalid('body', '"file" must be an uploaded file\'s path (COLLECTION/RECORD/FILENAME) or an https URL.')
    }
  }
}

/** Handles one valid frame of an authenticated connection; failures become `error` frames. */
export async function handleFrame(im: Im, conn: ImConnection, frame: Exclude<ClientFrame, { type: 'auth' }>): Promise<void> {
  try {
    switch (frame.type) {
      case 'send':
        return await send(im, conn, frame)
      case 'read':
      case 'delivered': {
        const changed = await im.store.mark(frame.conversation, conn.user, frame.type, frame.seq)
        if (changed) {
          const members = await im.members(frame.conversation)
          await im.sendTo(members.map((m) => m.user), { type: 'receipt', conversation: frame.conversation, user: conn.user, kind: frame.type, seq: frame.seq })
        }
        if (frame.ref !== undefined) conn.send({ type: 'ok', ref: frame.ref })
        return
      }
      case 'typing': {
        const members = await im.members(frame.conversation)
        if (!members.some((m) => m.user === conn.user)) throw new ApiError('not_found', "The conversation wasn't found.")
        const others = members.filter((m) => m.user !== conn.user).map((m) => m.user)
        if (others.length) await im.sendTo(others, { type: 'typing', conversation: frame.conversation, user: conn.user })
        return
      }
      case 'recall': {
        await im.store.recall(conn.user, frame.conversation, frame.seq)
        im.forgetMembers(frame.conversation)
        const members = await im.members(frame.conversation)
        await im.sendTo(members.map((m) => m.user), { type: 'recalled', conversation: frame.conversation, seq: frame.seq, by: conn.user })
        conn.send({ type: 'ok', ref: frame.ref })
        return
      }
      case 'resume':
        try {
          return await resume(im, conn, frame)
        } finally {
          conn.startLive()
        }
      case 'presence': {
        // Only people one shares a conversation with: presence is not for strangers.
        const contacts = await im.store.contactsAmong(conn.user, [...new Set(frame.users)])
        const stranger = frame.users.find((u) => !contacts.has(u))
        if (stranger !== undefined) throw new ApiError('forbidden', 'Presence is shown only for members of your conversations.', { users: { code: 'validation_invalid_value', message: `Not a contact: ${stranger}.` } })
        const users: Record<string, boolean> = {}
        for (const u of frame.users) {
          if (!im.watch(conn, u)) throw new ApiError('bad_request', 'Too many users watched on one connection.')
        }
        const states = await Promise.all(frame.users.map((u) => im.online(u)))
        frame.users.forEach((u, i) => {
          users[u] = states[i]!
          im.told(u, states[i]!)
        })
        conn.send({ type: 'presence', ref: frame.ref, users })
        return
      }
      case 'ping':
        conn.send({ type: 'pong', ref: frame.ref })
        return
    }
  } catch (err) {
    if (!(err instanceof ApiError)) im.deps.log.error({ err, frame: frame.type }, 'im: a frame failed')
    conn.send(errorFrame(err, frame.ref))
  }
}

async function send(im: Im, conn: ImConnection, frame: FrameOf<'send'>): Promise<void> {
  const { config, counters } = im.deps
  if (config.userRate > 0) {
    const { count } = await counters.increment(`im:rate:${conn.user}`, 1000)
    if (count > config.userRate) throw new ApiError('too_many_requests', 'Too many messages; slow down.')
  }
  // A retry of a stored message is answered with the original (no hooks, no limits on content).
  const before = await im.store.existing(frame.conversation, conn.user, frame.clientId)
  if (before) {
    conn.send({ type: 'ack', ref: frame.ref, conversation: before.conversation, clientId: before.clientId, id: before.id, seq: before.seq, created: before.created, duplicate: true })
    return
  }
  const event = { auth: conn.auth!, conversation: frame.conversation, message: { kind: frame.kind, body: frame.body, clientId: frame.clientId } }
  if (!(await im.hooks.runBefore(event))) throw new ApiError('forbidden', 'The message was refused.')
  const { kind, body } = event.message
  await checkBody(im, kind, body)
  if (Buffer.byteLength(JSON.stringify(body)) > config.maxMessageBytes) throw new ApiError('body_too_large', `A message body is at most ${config.maxMessageBytes} bytes.`)
  const result = await im.store.send(conn.user, { conversation: frame.conversation, clientId: frame.clientId, kind, body })
  const m = result.message
  // Stored (committed) before the ack: a client that got its ack never loses the message.
  conn.send({ type: 'ack', ref: frame.ref, conversation: m.conversation, clientId: m.clientId, id: m.id, seq: m.seq, created: m.created, duplicate: result.duplicate })
  if (result.duplicate) return
  if (conn.lastSent.get(m.conversation) === m.seq - 1) conn.lastSent.set(m.conversation, m.seq)
  await im.deliver(result.members.map((x) => x.user), m)
  if (!im.hooks.hasDelivered) return
  const others = result.members.filter((x) => x.user !== conn.user && !x.muted)
  const online = await Promise.all(others.map((x) => im.online(x.user).catch(() => false)))
  const offline = others.filter((_, i) => !online[i]).map((x) => x.user)
  await im.hooks.runDelivered({ message: m, members: result.members.map(({ user, role, muted }) => ({ user, role, muted })), offline }, (err) =>
    im.deps.log.error({ err }, 'im: a delivered hook failed'),
  )
}

/** Resumes the named conversations, then lets live messages flow (held until the first resume). */
export async function resume(im: Im, conn: ImConnection, frame: Pick<FrameOf<'resume'>, 'ref' | 'conversations'>): Promise<void> {
  const out: Record<string, number> = {}
  const named = Object.entries(frame.conversations)
  // Only conversations the user is in (others are answered -1, not found); SQL is read only for
  // those with something after the client's seq, or that this connection already sent live.
  const last = await im.store.lastSeqs(conn.user, named.map(([id]) => id))
  for (const [conversation, claimed] of named) {
    if (conn.closed) return
    const lastSeq = last.get(conversation)
    if (lastSeq === undefined) {
      out[conversation] = -1
      continue
    }
    // A seq past the conversation's last (a client's mistake) would hide the next messages.
    const seq = Math.min(claimed, lastSeq)
    if (lastSeq === seq && conn.lastSent.get(conversation) === undefined) {
      conn.lastSent.set(conversation, seq)
      out[conversation] = seq
    } else out[conversation] = await conn.resume(conversation, seq)
  }
  conn.startLive()
  conn.send({ type: 'resumed', ref: frame.ref, conversations: out })
}
