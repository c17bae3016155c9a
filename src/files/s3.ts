/**
 * The files port on any S3-compatible service (AWS S3, Alibaba OSS's S3 endpoint, MinIO) through
 * the AWS SDK v3. Loaded only when `files` is an `s3://` URL, so it imports the SDK statically.
 *
 * Whole or absent: a body that fits in one part (8 MiB) is buffered and sent with PutObject, a
 * longer one goes up as a multipart upload of 8 MiB parts that becomes visible only at
 * CompleteMultipartUpload; a failing stream or a body over `maxBytes` aborts the upload, so
 * nothing appears under the key. Memory per put stays about two parts (the one being filled and
 * the one being sent, reused from part to part).
 */
import type { Readable } from 'node:stream'
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  UploadPartCommand,
  type S3ClientConfig,
} from '@aws-sdk/client-s3'
import { getSignedUrl } from '@aws-sdk/s3-request-presigner'
import type { Logger } from '../log.ts'
import type { S3Target } from '../config/urls.ts'
import { TooLargeError } from './local.ts'
import { assertSafeKey, type ByteRange, type FileStore, type PresignedPut, type PutOptions, type ReadResult, type StoredObject } from './files.ts'

/** Bytes per multipart part (S3's minimum is 5 MiB for every part but the last). */
export const PART_BYTES = 8 * 1024 * 1024
/** Keys per ListObjectsV2 page and per DeleteObjects call (S3's maximum for both). */
const PAGE = 1000

/** What the S3 engine may use while it opens. */
export interface S3StoreContext {
  log?: Logger
}

/**
 * S3's "no such object" answers: NoSuchKey from GET, NotFound (a bare 404) from HEAD. A missing
 * bucket is NoSuchBucket on GET and stays an error (on HEAD it cannot be told apart).
 */
function isMissing(err: unknown): boolean {
  return err instanceof S3ServiceException && (err.name === 'NoSuchKey' || err.name === 'NotFound')
}

/** The object's whole size from `Content-Range: bytes 0-9/100` (a ranged GET), else the body's length. */
function totalSize(contentRange: string | undefined, contentLength: number | undefined): number {
  const total = contentRange ? /\/(\d+)$/.exec(contentRange)?.[1] : undefined
  return total !== undefined ? Number(total) : (contentLength ?? 0)
}

/**
 * Reads `body` in parts of `PART_BYTES`, calling `onPart` with each full part and the last
 * (shorter, maybe empty) one with `last` true. Throws TooLargeError past `maxBytes` (the local
 * engine's error, so callers match one class whichever engine stored the file).
 * Full parts are assembled in one buffer reused for every part (`onPart` must be done with it
 * when its promise settles): a 1 GiB upload allocates 8 MiB once, not 128 times, so the garbage
 * collector has no pile of dead parts to fall behind on.
 */
async function forEachPart(body: Readable, maxBytes: number | undefined, onPart: (part: Buffer, last: boolean) => Promise<void>): Promise<number> {
  let chunks: Buffer[] = []
  let held = 0
  let total = 0
  let reused: Buffer | undefined
  for await (const data of body) {
    let chunk = Buffer.isBuffer(data) ? data : Buffer.from(data as Uint8Array)
    total += chunk.length
    if (maxBytes !== undefined && total > maxBytes) throw new TooLargeError(maxBytes)
    while (held + chunk.length >= PART_BYTES) {
      const take = PART_BYTES - held
      reused ??= Buffer.allocUnsafeSlow(PART_BYTES)
      let at = 0
      for (const c of chunks) at += c.copy(reused, at)
      chunk.copy(reused, at, 0, take)
      chunks = []
      held = 0
      chunk = chunk.subarray(take)
      await onPart(reused, false)
    }
    if (chunk.length) {
      chunks.push(chunk)
      held += chunk.length
    }
  }
  await onPart(Buffer.concat(chunks), true)
  return total
}

/**
 * Opens a bucket as a FileStore. Credentials come from the target (URL or `secretAccessKeyFile`),
 * else from the SDK's default chain (AWS_* variables, instance role). Nothing is contacted until
 * the first call.
 */
export function openS3Store(target: S3Target, ctx: S3StoreContext = {}): FileStore {
  const config: S3ClientConfig = {
    region: target.region,
    forcePathStyle: target.forcePathStyle,
    // Only when an operation demands one: OSS and older S3-compatible servers refuse the SDK's
    // default CRC32 trailers, and a presigned URL must not carry a checksum of an empty body.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  }
  if (target.endpoint) config.endpoint = target.endpoint
  if (target.accessKeyId && target.secretAccessKey) {
    config.credentials = { accessKeyId: target.accessKeyId, secretAccessKey: target.secretAccessKey }
  }
  const client = new S3Client(config)
  const Bucket = target.bucket

  async function putBuffer(key: string, body: Buffer, contentType: string | undefined): Promise<void> {
    await client.send(new PutObjectCommand({ Bucket, Key: key, Body: body, ContentLength: body.length, ContentType: contentType }))
  }

  async function putStream(key: string, body: Readable, options: PutOptions): Promise<number> {
    let uploadId: string | undefined
    const parts: { ETag: string | undefined; PartNumber: number }[] = []
    try {
      return await forEachPart(body, options.maxBytes, async (part, last) => {
        if (last && uploadId === undefined) return putBuffer(key, part, options.contentType)
        if (uploadId === undefined) {
          const created = await client.send(new CreateMultipartUploadCommand({ Bucket, Key: key, ContentType: options.contentType }))
          uploadId = created.UploadId
        }
        // An empty last part only completes the upload (S3 refuses an empty part after the first).
        if (last && part.length === 0) return
        const PartNumber = parts.length + 1
        const out = await client.send(new UploadPartCommand({ Bucket, Key: key, UploadId: uploadId, PartNumber, Body: part, ContentLength: part.length }))
        parts.push({ ETag: out.ETag, PartNumber })
      }).then(async (size) => {
        if (uploadId !== undefined) {
          await client.send(new CompleteMultipartUploadCommand({ Bucket, Key: key, UploadId: uploadId, MultipartUpload: { Parts: parts } }))
        }
        return size
      })
    } catch (err) {
      body.destroy()
      if (uploadId !== undefined) {
        await client.send(new AbortMultipartUploadCommand({ Bucket, Key: key, UploadId: uploadId })).catch((abortErr: unknown) => {
          // The bucket's lifecycle rule for incomplete uploads is the backstop for this one.
          ctx.log?.warn({ err: abortErr, key }, 'files: aborting a multipart upload failed')
        })
      }
      throw err
    }
  }

  async function deleteKeys(keys: string[]): Promise<void> {
    const out = await client.send(new DeleteObjectsCommand({ Bucket, Delete: { Objects: keys.map((Key) => ({ Key })), Quiet: true } }))
    const failed = out.Errors?.[0]
    if (failed) throw new Error(`files: deleting ${failed.Key ?? 'an object'} failed: ${failed.Code ?? ''} ${failed.Message ?? ''}`.trim())
  }

  /**
   * Pages of up to 1000 objects in key order. Each page starts after the last key seen (not at a
   * continuation token), so a caller may delete a page before asking for the next.
   */
  async function* listPages(prefix: string): AsyncGenerator<StoredObject[]> {
    let StartAfter: string | undefined
    for (;;) {
      const page = await client.send(new ListObjectsV2Command({ Bucket, Prefix: prefix || undefined, MaxKeys: PAGE, StartAfter }))
      const objects = (page.Contents ?? []).map((o) => ({ key: o.Key!, size: o.Size ?? 0, modified: o.LastModified ?? new Date(0) }))
      if (objects.length) yield objects
      if (!page.IsTruncated || !objects.length) return
      StartAfter = objects.at(-1)!.key
    }
  }

  const store: FileStore = {
    name: 's3',

    async put(key, body, options = {}) {
      assertSafeKey(key)
      if (Buffer.isBuffer(body)) {
        if (options.maxBytes !== undefined && body.length > options.maxBytes) throw new TooLargeError(options.maxBytes)
        await putBuffer(key, body, options.contentType)
        return { size: body.length }
      }
      return { size: await putStream(key, body, options) }
    },

    async read(key, range?: ByteRange): Promise<ReadResult | null> {
      assertSafeKey(key)
      try {
        const out = await client.send(new GetObjectCommand({ Bucket, Key: key, Range: range ? `bytes=${range.start}-${range.end}` : undefined }))
        const result: ReadResult = {
          key,
          size: totalSize(out.ContentRange, out.ContentLength),
          modified: out.LastModified ?? new Date(0),
          body: out.Body as Readable,
        }
        if (out.ContentType) result.contentType = out.ContentType
        return result
      } catch (err) {
        if (isMissing(err)) return null
        throw err
      }
    },

    async stat(key) {
      assertSafeKey(key)
      try {
        const out = await client.send(new HeadObjectCommand({ Bucket, Key: key }))
        const result: StoredObject = { key, size: out.ContentLength ?? 0, modified: out.LastModified ?? new Date(0) }
        if (out.ContentType) result.contentType = out.ContentType
        return result
      } catch (err) {
        if (isMissing(err)) return null
        throw err
      }
    },

    async delete(key) {
      assertSafeKey(key)
      await client.send(new DeleteObjectCommand({ Bucket, Key: key }))
    },

    async deletePrefix(prefix) {
      if (!prefix.endsWith('/')) throw new Error(`files: deletePrefix needs a prefix ending with "/", got ${JSON.stringify(prefix)}`)
      assertSafeKey(prefix.slice(0, -1))
      let deleted = 0
      for await (const page of listPages(prefix)) {
        await deleteKeys(page.map((o) => o.key))
        deleted += page.length
      }
      return deleted
    },

    async *list(prefix) {
      if (prefix !== '') assertSafeKey(prefix.replace(/\/$/, ''))
      for await (const page of listPages(prefix)) yield* page
    },

    async presignPut(key, { size, contentType, expiresInSeconds }): Promise<PresignedPut> {
      assertSafeKey(key)
      const command = new PutObjectCommand({ Bucket, Key: key, ContentLength: size, ContentType: contentType })
      // NB: both headers are signed, so the service refuses another length or type; the presigner
      // leaves Content-Type unsigned unless told.
      const url = await getSignedUrl(client, command, {
        expiresIn: expiresInSeconds,
        signableHeaders: new Set(['content-type', 'content-length']),
      })
      return {
        url,
        method: 'PUT',
        headers: { 'Content-Type': contentType, 'Content-Length': String(size) },
        expiresAt: new Date(Date.now() + expiresInSeconds * 1000),
      }
    },

    async close() {
      client.destroy()
    },
  }
  return store
}
