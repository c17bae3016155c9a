import type { FastifyRequest } from 'fastify'
import { ApiError } from '../errors.ts'
import type { UploadSpool } from '../files/upload.ts'
import { jsonTextTooDeep } from '../records/fields/cast.ts'
import { isForbiddenKey, withoutForbiddenKeys } from '../records/fields/forbidden-keys.ts'
import { MAX_BODY_JSON_DEPTH, tooDeep } from './json-body.ts'

/**
 * A record body from JSON or multipart/form-data (PocketBase's forms: repeated keys become
 * arrays, `@jsonPayload` holds JSON merged over the fields, file parts become uploads).
 * File parts go to `uploads.spool` (a temp file each, at most `maxBytesFor(key)` bytes: over it,
 * 413 with the rest unread); a part for a key that is no file field is read and dropped. Without
 * `uploads` (a batch) a file part is refused.
 */
export async function readRecordBody(
  request: FastifyRequest,
  uploads?: { spool: UploadSpool; maxBytesFor(key: string): number | undefined },
): Promise<Record<string, unknown>> {
  if (!request.isMultipart()) {
    const body = request.body ?? {}
    if (typeof body !== 'object' || Array.isArray(body)) throw new ApiError('bad_request', 'The request body must be a JSON object.')
    return withoutForbiddenKeys(body)
  }
  const out: Record<string, unknown> = Object.create(null)
  const add = (key: string, value: unknown) => {
    if (isForbiddenKey(key)) return
    const prev = out[key]
    out[key] = prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [prev, value]
  }
  for await (const part of request.parts()) {
    if (part.type === 'file') {
      const max = uploads?.maxBytesFor(part.fieldname)
      if (!uploads) throw new ApiError('bad_request', 'File uploads are not supported in this request.')
      if (max === undefined || isForbiddenKey(part.fieldname)) {
        for await (const _ of part.file) void _
        continue
      }
      add(part.fieldname, await uploads.spool.take(part.file, part.filename, max))
    } else if (part.fieldname === '@jsonPayload') {
      if (jsonTextTooDeep(String(part.value), MAX_BODY_JSON_DEPTH)) throw tooDeep()
      try {
        const json = JSON.parse(String(part.value)) as unknown
        if (json && typeof json === 'object' && !Array.isArray(json)) Object.assign(out, withoutForbiddenKeys(json))
      } catch {
        throw new ApiError('invalid_json', 'The @jsonPayload field is not valid JSON.')
      }
    } else {
      add(part.fieldname, part.value)
    }
  }
  return { ...out }
}
