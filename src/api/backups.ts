/**
 * PocketBase's backups API, superusers only:
 * - `GET /api/backups`: `[{key, size, modified}]`, newest first;
 * - `POST /api/backups` `{name?}`: creates one (waits for it), 204; a name must match
 *   `^[a-z0-9_-]+\.zip$` and be new (`validation_backup_name_exists`);
 * - `POST /api/backups/upload`: multipart `file`, a zip, stored under its own name, 204;
 * - `GET /api/backups/{key}?token=`: downloads, with a superuser's file token (`POST /api/files/token`);
 * - `DELETE /api/backups/{key}`: 204;
 * - `POST /api/backups/{key}/restore`: 204 at once, then restores in the background (refused up
 *   front while another node serves). Meanwhile every request but `/api/health` is answered 503.
 */
import { Type, type Static } from '@sinclair/typebox'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { ApiError, validationError } from '../errors.ts'
import type { Logger } from '../log.ts'
import { findRowByToken } from '../auth/records.ts'
import type { CollectionRegistry } from '../records/registry.ts'
import type { AnyDb } from '../sql/dialect.ts'
import { BACKUP_NAME, BackupError, type Backups } from '../backups/backups.ts'

export interface BackupsApiOptions {
  backups: Backups
  registry: CollectionRegistry
  /** Where file tokens are checked (the primary). */
  db: () => AnyDb
  log: Logger
}

const KeyParams = Type.Object({ key: Type.String({ minLength: 1, maxLength: 255 }) })
const CreateBody = Type.Object({ name: Type.Optional(Type.String({ maxLength: 150 })) })
const DownloadQuery = Type.Object({ token: Type.Optional(Type.String({ maxLength: 8192 })) })
/** What an uploaded archive may be called (it is stored under this name). */
const UPLOAD_NAME = /^[A-Za-z0-9@_.-]{1,150}\.zip$/

function requireSuperuser(request: FastifyRequest): void {
  if (!request.auth) throw new ApiError('unauthorized', 'The request requires valid record authorization token.')
  if (!request.auth.isSuperuser) throw new ApiError('forbidden', 'The authorized record is not allowed to perform this action.')
}

const badRequest = (err: unknown): never => {
  if (err instanceof BackupError) throw new ApiError('bad_request', err.message)
  throw err
}

/** Registers the routes and the 503 guard on `http` itself (the guard covers every route). */
export function installBackupsApi(http: FastifyInstance, { backups, registry, db, log }: BackupsApiOptions): void {
  http.addHook('onRequest', (request, reply, done) => {
    if (backups.active === undefined || !backups.restoring || request.url.startsWith('/api/health')) return done()
    done(new ApiError('unavailable', 'A backup is being restored; try again shortly.'))
  })

  http.get('/api/backups', async (request) => {
    requireSuperuser(request)
    return backups.list()
  })

  http.post<{ Body: Static<typeof CreateBody> }>('/api/backups', { schema: { body: CreateBody } }, async (request, reply) => {
    requireSuperuser(request)
    const name = request.body?.name || undefined
    if (name !== undefined) {
      if (!BACKUP_NAME.test(name)) throw validationError({ name: { code: 'validation_match_invalid', message: 'Must be in a valid format.' } })
      if (await backups.exists(name)) throw validationError({ name: { code: 'validation_backup_name_exists', message: 'The backup file name is invalid or already exists.' } })
    }
    await backups.create(name).catch(badRequest)
    return reply.code(204).send()
  })

  http.post('/api/backups/upload', async (request, reply) => {
    requireSuperuser(request)
    if (!request.isMultipart()) throw validationError({ file: { code: 'validation_required', message: 'Missing required value.' } })
    // NB: no size limit here, as PocketBase (BodyLimit(0)): a backup is as large as the deployment.
    const part = await request.file({ limits: { fileSize: Number.MAX_SAFE_INTEGER, files: 1 } })
    if (!part || part.fieldname !== 'file') throw validationError({ file: { code: 'validation_required', message: 'Missing required value.' } })
    const name = part.filename
    if (!UPLOAD_NAME.test(name)) {
      part.file.resume()
      throw validationError({ file: { code: 'validation_match_invalid', message: 'The file name must be letters, digits, _ - . @ and end with .zip.' } })
    }
    if (await backups.exists(name)) {
      part.file.resume()
      throw validationError({ file: { code: 'validation_backup_name_exists', message: 'Backup file with the specified name already exists.' } })
    }
    await backups.upload(name, part.file)
    // A zip starts with a local file header (PK\3\4); anything else is refused and removed.
    const head = await backups.read(name)
    const magic = head ? await firstBytes(head.body, 4) : Buffer.alloc(0)
    if (!magic.equals(Buffer.from([0x50, 0x4b, 0x03, 0x04]))) {
      await backups.delete(name).catch(() => undefined)
      throw validationError({ file: { code: 'validation_invalid_mime_type', message: 'The file must be application/zip.' } })
    }
    return reply.code(204).send()
  })

  http.get<{ Params: Static<typeof KeyParams>; Querystring: Static<typeof DownloadQuery> }>(
    '/api/backups/:key',
    { schema: { params: KeyParams, querystring: DownloadQuery } },
    async (request, reply) => {
      const token = request.query.token ?? ''
      const match = token ? await findRowByToken({ registry, db: db() }, token, 'file') : null
      if (!match || match.collection.name !== '_superusers') throw new ApiError('forbidden', 'Insufficient permissions to access the resource.')
      const found = await backups.read(request.params.key)
      if (!found) throw new ApiError('bad_request', 'Failed to retrieve backup item.')
      const safeName = request.params.key.replace(/[^A-Za-z0-9@_.-]/g, '_')
      return reply
        .header('content-type', 'application/zip')
        .header('content-length', String(found.size))
        .header('content-disposition', `attachment; filename="${safeName}"`)
        .send(found.body)
    },
  )

  http.delete<{ Params: Static<typeof KeyParams> }>('/api/backups/:key', { schema: { params: KeyParams } }, async (request, reply) => {
    requireSuperuser(request)
    await backups.delete(request.params.key).catch(badRequest)
    return reply.code(204).send()
  })

  http.post<{ Params: Static<typeof KeyParams> }>('/api/backups/:key/restore', { schema: { params: KeyParams } }, async (request, reply) => {
    requireSuperuser(request)
    const key = request.params.key
    if (backups.active !== undefined) throw new ApiError('bad_request', 'Try again later - another backup/restore process has already been started.')
    if (!(await backups.exists(key))) throw new ApiError('bad_request', 'Missing or invalid backup file.')
    await backups.checkAlone().catch(badRequest)
    // As PocketBase: answered at once, restored in the background (from here on, canBackup is false).
    backups.restore(key, {}, { checked: true }).catch((err: unknown) => log.error({ err, backup: key }, 'restoring a backup failed'))
    return reply.code(204).send()
  })
}

/** The first `n` bytes of a stream (then destroys it). */
async function firstBytes(body: NodeJS.ReadableStream & { destroy(): void }, n: number): Promise<Buffer> {
  const chunks: Buffer[] = []
  let got = 0
  for await (const c of body) {
    chunks.push(c as Buffer)
    got += (c as Buffer).length
    if (got >= n) break
  }
  body.destroy()
  return Buffer.concat(chunks).subarray(0, n)
}
