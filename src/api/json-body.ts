import type { FastifyInstance } from 'fastify'
import { ApiError } from '../errors.ts'
import { MAX_JSON_DEPTH, jsonTextTooDeep } from '../records/fields/cast.ts'
import { dropPrototypeKeys } from '../records/fields/forbidden-keys.ts'

/**
 * How deep a request's JSON may nest: a json field value's limit (MAX_JSON_DEPTH) plus room for
 * the envelope around it (a batch request's `requests[i].body`).
 */
export const MAX_BODY_JSON_DEPTH = MAX_JSON_DEPTH + 8

export const tooDeep = () => new ApiError('invalid_json', `The request body is nested too deeply (more than ${MAX_BODY_JSON_DEPTH} levels).`)

/**
 * A JSON body parser for PocketBase clients: its JS SDK sends `Content-Type: application/json`
 * with NO body on body-less calls (`authRefresh()`), which Fastify's default parser answers with
 * 400; here an empty body is `{}`. Keys `__proto__` and `constructor` are dropped at any depth
 * (PocketBase ignores unknown keys; Fastify's default would reject the whole request).
 * Installed once, at the root (src/app.ts): every route of the API parses JSON the same way.
 */
export function installJsonBodyParser(http: FastifyInstance): void {
  if (http.hasContentTypeParser('application/json')) http.removeContentTypeParser('application/json')
  http.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8')
    if (text.trim() === '') return done(null, {})
    // NB: before parsing, without recursion: a 100,000-deep body would otherwise reach code that
    // recurses (the reviver below, JSON.stringify) and overflow the stack.
    if (jsonTextTooDeep(text, MAX_BODY_JSON_DEPTH)) return done(tooDeep(), undefined)
    try {
      done(null, JSON.parse(text, dropPrototypeKeys))
    } catch {
      done(new ApiError('invalid_json'), undefined)
    }
  })
}
