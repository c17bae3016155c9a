/**
 * Keys that could reach an object's prototype once a parsed body is spread, assigned or merged
 * (`__proto__`, `constructor.prototype`). They never reach a record, whatever the body's format:
 * JSON, multipart, `@jsonPayload`, a batch's sub-requests, or app code calling the records service.
 */
const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype'])

/** Whether `key` is one of the keys no record input may carry. */
export function isForbiddenKey(key: string): boolean {
  return FORBIDDEN_KEYS.has(key)
}

/** The object's own entries without the forbidden keys (the top level: a record's field names). */
export function withoutForbiddenKeys(body: object): Record<string, unknown> {
  return Object.fromEntries(Object.entries(body).filter(([k]) => !FORBIDDEN_KEYS.has(k)))
}

/**
 * A `JSON.parse` reviver that drops `__proto__` and `constructor` at every depth, so no merge
 * further on can meet them. `prototype` below the top level is kept: it is ordinary data in a
 * json field's value, and without `constructor` above it reaches nothing.
 */
export function dropPrototypeKeys(key: string, value: unknown): unknown {
  return key === '__proto__' || key === 'constructor' ? undefined : value
}
