import { Type, type Static, type TSchema } from '@sinclair/typebox'
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler'
import { MESSAGE_KINDS } from '../records/collections/im-system.ts'

/**
 * The frames of `/api/plinth/im`: JSON text frames with a `type`. Each client frame has a TypeBox
 * schema, checked before anything else is done with it; a bad one is answered with an `error`
 * frame (PocketBase's `{status, message, data}` plus `type` and the frame's `ref`).
 */

const Id = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' })
const Seq = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })
/** The client's own id for a request frame, echoed in the answer (`ack`, `error`...). */
const Ref = Type.Optional(Type.String({ maxLength: 64 }))

/** Conversations one `resume` frame may name, and users one `presence` frame may ask about. */
export const MAX_RESUME_CONVERSATIONS = 1000
export const MAX_PRESENCE_USERS = 200

export const ClientFrames = {
  /** `conversations` (optional): resume at once, as a `resume` frame would. */
  auth: Type.Object({
    type: Type.Literal('auth'),
    ref: Ref,
    token: Type.String({ minLength: 1, maxLength: 4096 }),
    conversations: Type.Optional(Type.Record(Id, Seq, { maxProperties: MAX_RESUME_CONVERSATIONS })),
  }),
  send: Type.Object({
    type: Type.Literal('send'),
    ref: Ref,
    conversation: Id,
    clientId: Type.String({ minLength: 1, maxLength: 100 }),
    kind: Type.Union(MESSAGE_KINDS.map((k) => Type.Literal(k))),
    body: Type.Record(Type.String(), Type.Unknown()),
  }),
  read: Type.Object({ type: Type.Literal('read'), ref: Ref, conversation: Id, seq: Seq }),
  delivered: Type.Object({ type: Type.Literal('delivered'), ref: Ref, conversation: Id, seq: Seq }),
  typing: Type.Object({ type: Type.Literal('typing'), ref: Ref, conversation: Id }),
  recall: Type.Object({ type: Type.Literal('recall'), ref: Ref, conversation: Id, seq: Type.Integer({ minimum: 1 }) }),
  resume: Type.Object({
    type: Type.Literal('resume'),
    ref: Ref,
    conversations: Type.Record(Id, Seq, { maxProperties: MAX_RESUME_CONVERSATIONS }),
  }),
  presence: Type.Object({ type: Type.Literal('presence'), ref: Ref, users: Type.Array(Id, { maxItems: MAX_PRESENCE_USERS }) }),
  ping: Type.Object({ type: Type.Literal('ping'), ref: Ref }),
} satisfies Record<string, TSchema>

export type FrameType = keyof typeof ClientFrames
export type ClientFrame = { [K in FrameType]: Static<(typeof ClientFrames)[K]> }[FrameType]
export type FrameOf<K extends FrameType> = Static<(typeof ClientFrames)[K]>

const checks = new Map<string, TypeCheck<TSchema>>(Object.entries(ClientFrames).map(([k, s]) => [k, TypeCompiler.Compile(s)]))

/** What a frame failed: PocketBase's `data` (`{field: {code, message}}`). */
export interface FrameError {
  ref?: string
  status: number
  message: string
  data: Record<string, { code: string; message: string }>
}

/** Parses and checks one text frame: the frame, or what is wrong with it (never throws). */
export function parseFrame(text: string): ClientFrame | FrameError {
  let raw: unknown
  try {
    raw = JSON.parse(text)
  } catch {
    return { status: 400, message: 'The frame is not valid JSON.', data: {} }
  }
  const { type, ref: rawRef } = raw && typeof raw === 'object' ? (raw as { type?: unknown; ref?: unknown }) : {}
  // A bad frame's error still names its ref (when it is one), so the client knows which one failed.
  const ref = typeof rawRef === 'string' && rawRef.length <= 64 ? rawRef : undefined
  const check = typeof type === 'string' ? checks.get(type) : undefined
  if (!check) return { ref, status: 400, message: 'Unknown frame type.', data: { type: { code: 'validation_invalid_value', message: 'Unknown frame type.' } } }
  if (check.Check(raw)) return raw as ClientFrame
  const data: FrameError['data'] = {}
  for (const e of check.Errors(raw)) {
    const key = e.path.replace(/^\//, '').split('/')[0] || 'frame'
    data[key] ??= { code: 'validation_invalid_value', message: e.message }
    if (Object.keys(data).length >= 5) break
  }
  return { ref, status: 400, message: 'Failed to validate the frame.', data }
}

export function isFrameError(x: ClientFrame | FrameError): x is FrameError {
  return (x as FrameError).status !== undefined && (x as ClientFrame).type === undefined
}

/** A stored message as clients receive it (`message` frames, history, resume). */
export interface MessageOut {
  id: string
  conversation: string
  seq: number
  sender: string
  kind: string
  body: unknown
  clientId: string
  recalled: boolean
  created: string
}

/** Frames the server sends. */
export type ServerFrame =
  | { type: 'ready'; user: string; collection: string; node: string }
  | { type: 'ack'; ref?: string; conversation: string; clientId: string; id: string; seq: number; created: string; duplicate: boolean }
  | ({ type: 'message' } & MessageOut)
  | { type: 'receipt'; conversation: string; user: string; kind: 'read' | 'delivered'; seq: number }
  | { type: 'typing'; conversation: string; user: string }
  | { type: 'recalled'; conversation: string; seq: number; by: string }
  | { type: 'members'; conversation: string; by: string; added: string[]; removed: string[] }
  | { type: 'presence'; ref?: string; users: Record<string, boolean> }
  | { type: 'resumed'; ref?: string; conversations: Record<string, number> }
  | { type: 'gap'; conversation: string; from: number; to: number }
  | { type: 'ok'; ref?: string }
  | { type: 'pong'; ref?: string }
  | { type: 'error'; ref?: string; status: number; message: string; data: Record<string, unknown> }

/** WebSocket close codes: 1008 policy (auth, origin), 1009 too big, 1013 try again later (slow, shutdown), 4001/4003 as HTTP. */
export const CLOSE = {
  normal: 1000,
  goingAway: 1001,
  policy: 1008,
  tooBig: 1009,
  tryAgain: 1013,
  unauthorized: 4001,
  revoked: 4003,
  slow: 4008,
  flood: 4029,
} as const
