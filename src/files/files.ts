/**
 * The files port: where uploaded files and their thumbs are stored. One interface, engines beside
 * it: `local.ts` (a folder, the embedded default `file://./plinth_data/storage`) and `s3.ts` (any
 * S3-compatible service through the AWS SDK v3: AWS S3, Alibaba OSS, MinIO), picked by the `files`
 * config URL (`PLINTH_FILES`).
 *
 * Keys are PocketBase's layout, `/`-separated and never starting with `/`:
 * `{collectionId}/{recordId}/{filename}` for a file and
 * `{collectionId}/{recordId}/thumbs_{filename}/{size}_{filename}` for its thumbs. Callers build
 * keys from validated names only (`storedName`), and engines refuse a key with `..`, a NUL or a
 * leading `/` all the same, so no key reaches outside the store.
 *
 * Writes are whole or absent: `put` stores under the key only once every byte arrived, so a reader
 * never sees half a file and a failed upload leaves nothing under its key.
 */
import type { Readable } from 'node:stream'

/** What the store knows about one object. */
export interface StoredObject {
  key: string
  /** Bytes. */
  size: number
  /** As given to `put` (the engine may not keep it: local files answer undefined). */
  contentType?: string
  modified: Date
}

/** A byte range, both ends inclusive, as HTTP `Range: bytes=start-end` names it. */
export interface ByteRange {
  start: number
  end: number
}

export interface PutOptions {
  contentType?: string
  /** Refuse (and store nothing) when the body turns out longer than this many bytes. */
  maxBytes?: number
}

export interface ReadResult extends StoredObject {
  /** The object's bytes, or the requested range of them; the caller must consume or destroy it. */
  body: Readable
  /**
   * The same bytes already in memory, when the engine read a small object at once (a `known`
   * read of the local engine); `body` then streams them too.
   */
  bytes?: Buffer
}

/** A URL a client may PUT one object to directly (engines that can sign one). */
export interface PresignedPut {
  url: string
  method: 'PUT'
  /** Headers the client must send unchanged (the signature covers them). */
  headers: Record<string, string>
  expiresAt: Date
}

export interface FileStore {
  /** For logs only: never branch on it. */
  readonly name: 'local' | 's3'
  /** Stores the body under `key`, replacing any object there; resolves with its size once stored. */
  put(key: string, body: Readable | Buffer, options?: PutOptions): Promise<{ size: number }>
  /**
   * The object, or one range of it; null when there is none. `known` is what `stat` answered for
   * the key just before: an engine may trust it instead of looking the object up again.
   */
  read(key: string, range?: ByteRange, known?: StoredObject): Promise<ReadResult | null>
  /** The object's facts without its bytes; null when there is none. */
  stat(key: string): Promise<StoredObject | null>
  /** Removes one object; no error when it is missing. */
  delete(key: string): Promise<void>
  /** Removes every object whose key starts with `prefix` (which must end with `/`); returns how many. */
  deletePrefix(prefix: string): Promise<number>
  /** Every object under `prefix` ('' for all), in key order, fetched page by page. */
  list(prefix: string): AsyncIterable<StoredObject>
  /**
   * A URL a client can PUT exactly `size` bytes of `contentType` to, valid for `expiresInSeconds`;
   * undefined on engines that cannot sign one (the API then takes the upload itself).
   */
  presignPut?(key: string, options: { size: number; contentType: string; expiresInSeconds: number }): Promise<PresignedPut>
  /**
   * Pieces of writes that never finished and are older than `before` (the local engine's temp
   * files a crash in the middle of a put left behind); `delete` removes them. Engines that leave
   * none Plinth can see omit it (S3's incomplete multipart uploads: see the README's lifecycle rule).
   */
  leftovers?(before: Date): AsyncIterable<StoredObject>
  close(): Promise<void>
}

/** A key is safe when it is relative, has no empty, `.` or `..` segment and no NUL or backslash. */
export function isSafeKey(key: string): boolean {
  if (!key || key.startsWith('/') || key.includes('\0') || key.includes('\\')) return false
  return key.split('/').every((part) => part !== '' && part !== '.' && part !== '..')
}

/** Throws when a key is not safe: engines call it before touching storage. */
export function assertSafeKey(key: string): void {
  if (!isSafeKey(key)) throw new Error(`files: refusing unsafe key ${JSON.stringify(key)}`)
}
