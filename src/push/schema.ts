import { Type, type Static } from '@sinclair/typebox'

/** What `push.send` and `POST /api/plinth/push` take. */
export const PushSendSchema = Type.Object(
  {
    /** Record ids of `collection` (default `users`). */
    users: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 255 }), { minItems: 1, maxItems: 100_000 })),
    collection: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
    /** Every record of `collection` matching `filter` (PocketBase's filter language; empty: all of them). */
    query: Type.Optional(
      Type.Object(
        {
          collection: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
          filter: Type.Optional(Type.String({ maxLength: 3500 })),
        },
        { additionalProperties: false },
      ),
    ),
    notification: Type.Optional(
      Type.Object(
        { title: Type.Optional(Type.String({ maxLength: 1000 })), body: Type.Optional(Type.String({ maxLength: 4000 })) },
        { additionalProperties: false },
      ),
    ),
    data: Type.Optional(Type.Record(Type.String({ minLength: 1, maxLength: 100 }), Type.Unknown(), { maxProperties: 50 })),
    badge: Type.Optional(Type.Integer({ minimum: 0, maximum: 99_999 })),
    sound: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
    collapseId: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    /** Seconds (at most 28 days, FCM's limit). */
    ttl: Type.Optional(Type.Integer({ minimum: 0, maximum: 28 * 86_400 })),
  },
  { additionalProperties: false },
)
export type PushSendInput = Static<typeof PushSendSchema>

/** A device registration (`POST /api/plinth/devices/push`). */
export const DeviceSchema = Type.Object(
  {
    platform: Type.Union([Type.Literal('ios'), Type.Literal('android')]),
    /** APNs: hex; FCM: base64url with `:`; kept as given. */
    token: Type.String({ minLength: 8, maxLength: 4096, pattern: '^[A-Za-z0-9_:.\\-]+$' }),
    topic: Type.Optional(Type.String({ maxLength: 255, pattern: '^[A-Za-z0-9.\\-]*$' })),
    locale: Type.Optional(Type.String({ maxLength: 35, pattern: '^[A-Za-z0-9_\\-]*$' })),
    appVersion: Type.Optional(Type.String({ maxLength: 64 })),
  },
  { additionalProperties: false },
)
export type DeviceBody = Static<typeof DeviceSchema>
