import { Type, type Static } from '@sinclair/typebox'

/**
 * Instant messaging over WebSocket (`/api/plinth/im`, src/im/): its switch and its limits. Kept
 * here, beside the feature, and mounted as `im` in the config schema.
 */
export const ImConfigSchema = Type.Object(
  {
    /** Serve `/api/plinth/im` (WebSocket) and `/api/plinth/im/...` (REST). */
    enabled: Type.Boolean(),
    /**
     * Origins a browser's WebSocket may come from (`https://app.example.com`, or `*`). Empty: the
     * CORS origins (`cors.origins`). A client that sends no Origin (a mobile app) is let in.
     */
    origins: Type.Array(Type.String({ pattern: '^(\\*|https?://[^\\s/]+)$' })),
    /** The largest message body (JSON) in bytes; a frame may be 4 KiB more (its envelope). */
    maxMessageBytes: Type.Integer({ minimum: 64, maximum: 1 << 20 }),
    /** Messages a user may send per second, over all their connections and nodes (counters port); 0 = no limit. */
    userRate: Type.Integer({ minimum: 0 }),
    /** Frames one connection may send per second (any kind); 0 = no limit. */
    connectionRate: Type.Integer({ minimum: 0 }),
    /** Conversations one user may belong to. */
    maxConversations: Type.Integer({ minimum: 1 }),
    /** Members of one group. */
    maxGroupMembers: Type.Integer({ minimum: 2 }),
    /** Bytes a connection may leave unsent (ws bufferedAmount) before it is closed as too slow. */
    maxQueueBytes: Type.Integer({ minimum: 1024 }),
    /** Seconds after sending during which a message may be recalled by its sender; 0 = never. */
    recallSeconds: Type.Integer({ minimum: 0 }),
    /** Seconds between heartbeats; presence expires after two missed ones. */
    heartbeatSeconds: Type.Integer({ minimum: 1, maximum: 3600 }),
    /** ms a new socket has to authenticate before it is closed. */
    authTimeout: Type.Integer({ minimum: 100 }),
    /** Messages one `resume` replays per conversation; past it the client gets a `gap` frame and reads the rest over REST. */
    resumeLimit: Type.Integer({ minimum: 1, maximum: 100_000 }),
    /** Push each new message to the members offline on every node (and not muting it), through the push port. */
    pushOffline: Type.Boolean(),
  },
  { additionalProperties: false },
)
export type ImConfig = Static<typeof ImConfigSchema>

export const IM_DEFAULTS: ImConfig = {
  enabled: true,
  origins: [],
  maxMessageBytes: 16 * 1024,
  userRate: 20,
  connectionRate: 30,
  maxConversations: 1000,
  maxGroupMembers: 500,
  maxQueueBytes: 1 << 20,
  recallSeconds: 120,
  heartbeatSeconds: 30,
  authTimeout: 10_000,
  resumeLimit: 1000,
  pushOffline: true,
}
