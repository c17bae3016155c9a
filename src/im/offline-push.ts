import type { Logger } from 'pino'
import type { PushService } from '../push/service.ts'
import type { ImHooks } from './hooks.ts'

/** The most characters of a text message a notification shows. */
const PREVIEW = 120

/** What the notification says for a message of each kind (custom JSON says nothing: data only). */
function preview(kind: string, body: unknown): string | undefined {
  const b = (body && typeof body === 'object' ? body : {}) as Record<string, unknown>
  if (kind === 'text' && typeof b.text === 'string') return b.text.length > PREVIEW ? `${b.text.slice(0, PREVIEW - 1)}…` : b.text
  if (kind === 'image') return '[image]'
  if (kind === 'file') return '[file]'
  return undefined
}

/**
 * `im.pushOffline` (on by default): a new message is pushed to the conversation's members who are
 * offline on every node and have not muted it (the delivered hook's `offline` list), through the
 * push port's queue, so a big group never holds up the sender. One notification per conversation
 * is kept on the device (`collapseId`), and the app gets `{type: 'im', conversation, seq}` to open it.
 */
export function pushOfflineMembers(hooks: ImHooks, push: PushService, log: Logger): void {
  hooks.onMessageDelivered(async (e) => {
    if (e.offline.length === 0 || e.message.recalled) return
    const body = preview(e.message.kind, e.message.body)
    try {
      await push.send({
        users: e.offline,
        ...(body ? { notification: { body } } : {}),
        data: { type: 'im', conversation: e.message.conversation, seq: e.message.seq, kind: e.message.kind },
        collapseId: e.message.conversation.slice(0, 64),
        ttl: 86_400,
      })
    } catch (err) {
      log.warn({ err, conversation: e.message.conversation, seq: e.message.seq }, 'im: the push to offline members could not be queued')
    }
  })
}
