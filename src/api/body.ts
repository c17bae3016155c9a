import { randomBytes } from 'node:crypto'
import path from 'node:path'
import type { FastifyRequest } from 'fastify'
import { ApiError } from '../errors.ts'
import type { UploadedFile } from '../records/fields/index.ts'
import { jsonTextTooDeep } from '../records/fields/cast.ts'
import { isForbiddenKey, withoutForbiddenKeys } from '../records/fields/forbidden-keys.ts'
import { MAX_BODY_JSON_DEPTH, tooDeep } from './json-body.ts'

/** A file name PocketBase-style: `name_RANDOM.ext`, only safe characters. */
function storedName(original: string): string {
  const ext = path.extname(original).toLowerCase().replace(/[^.a-z0-9]/g, '').slice(0, 10)
  const base = path.basename(original, path.extname(original)).toLowerCase().replace(/[^a-z0-9_]+/g, '_').replace(/^_+|_+$/g, '').slice(0, 100) || 'file'
  return `${base}_${randomBytes(5).toString('hex').slice(0, 10)}${ext}`
}

/**
 * A record body from JSON or multipart/form-data (PocketBase's forms: repeated keys become
 * arrays, `@jsonPayload` holds JSON merged over the fields, file parts become uploads).
 * NB: files are metadata only for now: their bytes are read to count the size and dropped,
 * because the files port (storage) is not built yet.
 */
export async function readRecordBody(request: FastifyRequest): Promise<Record<string, unknown>> {
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
      let size = 0
      for await (const chunk of part.file) size += (chunk as Buffer).length
      if (part.file.truncated) throw new ApiError('body_too_large')
      const file: UploadedFile = { name: storedName(part.filename), originalName: part.filename, size, mimeType: part.mimetype }
      add(part.fieldname, file)
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
