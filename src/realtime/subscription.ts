/**
 * One subscription of a realtime client, parsed from what the SDK sends: a topic
 * (`posts/*`, `posts/RECORD_ID`, or any custom name), optionally followed by
 * `?options={"query":{...},"headers":{...}}` (URL-encoded JSON). The whole string is the key, and
 * the name of the events it receives; the SDK listens under that exact name.
 */
export interface Subscription {
  /** As the client sent it: the event name. */
  readonly key: string
  /** The part before `?`. */
  readonly topic: string
  /** `filter`, `expand`, `fields` (and any other query value, visible to rules as `@request.query.*`). */
  readonly query: Readonly<Record<string, string>>
  /** Lower-cased with `-` as `_` (PocketBase's `@request.headers.*` form). */
  readonly headers: Readonly<Record<string, string>>
}

/** PocketBase's bounds on one subscribe request (its form: at most 1000, each at most 2500 characters). */
export const MAX_SUBSCRIPTIONS = 1000
export const MAX_SUBSCRIPTION_LENGTH = 2500

/** Values of the options object as strings, as PocketBase casts them (non-strings as their JSON text). */
function stringMap(raw: unknown, normalizeKey: (k: string) => string): Record<string, string> {
  const out: Record<string, string> = Object.create(null)
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return out
  for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
    if (v === undefined || v === null) continue
    out[normalizeKey(k)] = typeof v === 'string' ? v : JSON.stringify(v)
  }
  return out
}

/**
 * Parses one subscription. Options that are not valid JSON are ignored (PocketBase ignores them
 * too), so a subscription never fails here; its rules decide what it receives.
 */
export function parseSubscription(key: string): Subscription {
  const q = key.indexOf('?')
  const topic = q < 0 ? key : key.slice(0, q)
  let options: { query?: unknown; headers?: unknown } = {}
  if (q >= 0) {
    const raw = new URLSearchParams(key.slice(q + 1)).get('options')
    if (raw) {
      try {
        const parsed: unknown = JSON.parse(raw)
        if (parsed && typeof parsed === 'object') options = parsed as typeof options
      } catch {
        // ignored, as PocketBase does
      }
    }
  }
  return Object.freeze({
    key,
    topic,
    query: Object.freeze(stringMap(options.query, (k) => k)),
    headers: Object.freeze(stringMap(options.headers, (k) => k.toLowerCase().replaceAll('-', '_'))),
  })
}
