/**
 * Uploads on their way in: a multipart file part is spooled to a temp file (never held in memory),
 * counted against its field's `maxSize` while it streams (over it: 413 at once, the rest unread),
 * and its type sniffed from its first bytes (magic numbers via file-type, not the client's name or
 * header). The records layer stores it under its record once the row is written
 * (`record-files.ts`); the temp file is removed when the request ends.
 */
import { randomBytes, randomInt } from 'node:crypto'
import { createReadStream, createWriteStream } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { Transform, type Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { ApiError } from '../errors.ts'
import type { UploadedFile } from '../records/fields/index.ts'

/** PocketBase's default `maxSize` of a file field (5 MiB). */
export const DEFAULT_FILE_MAX_SIZE = 5 << 20
/** Bytes file-type needs to recognise every format it knows. */
const SNIFF_BYTES = 4100
const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789'

function randomChars(n: number): string {
  let s = ''
  for (let i = 0; i < n; i++) s += ALPHABET[randomInt(ALPHABET.length)]
  return s
}

/**
 * PocketBase's stored-name scheme: the client's base name in snake case (at most 100 characters,
 * padded with 10 random ones when under 3), `_`, 10 random characters, then the extension (only
 * `[a-z0-9]`; the sniffed type's when the name has none). Whatever the client sends (`../`, NUL,
 * slashes), the result is one safe key segment.
 */
export function storedName(original: string, sniffedExt?: string): string {
  const name = original.slice(-300).split(/[/\\]/).pop() ?? ''
  const dot = name.lastIndexOf('.')
  const rawExt = dot > 0 ? name.slice(dot + 1) : ''
  let ext = rawExt.toLowerCase().replace(/[^a-z0-9]/g, '').slice(-20)
  if (!ext && sniffedExt) ext = sniffedExt.replace(/[^a-z0-9]/g, '')
  let base = (dot > 0 ? name.slice(0, dot) : name)
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .slice(0, 100)
  if (base.length < 3) base += randomChars(10)
  return `${base}_${randomChars(10)}${ext ? `.${ext}` : ''}`
}

/** A best guess for bytes file-type does not know: text formats by their opening, else binary. */
function sniffText(head: Buffer): string {
  if (head.includes(0)) return 'application/octet-stream'
  const text = head.toString('utf8')
  if (text.includes('\uFFFD')) return 'application/octet-stream'
  const start = text.replace(/^\uFEFF/, '').trimStart().slice(0, 512).toLowerCase()
  if (/^<svg[\s>]/.test(start) || (start.startsWith('<?xml') && start.includes('<svg'))) return 'image/svg+xml'
  if (/^<(!doctype html|html|head|body|script|iframe|div|p|a|img|h1|table|style)[\s>]/.test(start)) return 'text/html'
  if (start.startsWith('<?xml')) return 'text/xml'
  return 'text/plain'
}

/** The MIME type and extension of a file from its first bytes. */
export async function sniffType(head: Buffer): Promise<{ mime: string; ext?: string }> {
  const { fileTypeFromBuffer } = await import('file-type')
  const found = await fileTypeFromBuffer(head)
  if (found) return { mime: found.mime, ext: found.ext }
  const mime = sniffText(head)
  return { mime, ext: mime === 'image/svg+xml' ? 'svg' : mime === 'text/html' ? 'html' : mime === 'text/plain' ? 'txt' : undefined }
}

/** Where one request's uploads wait; `discard` removes them all (call it when the request ends). */
export class UploadSpool {
  private dir: Promise<string> | undefined

  /**
   * Streams `file` into a temp file, failing with 413 once it runs over `maxBytes` (the rest of the
   * part is left unread) and returns it as an upload whose bytes are read from that file.
   */
  async take(file: Readable, filename: string, maxBytes: number): Promise<UploadedFile> {
    const dir = await (this.dir ??= mkdtemp(path.join(tmpdir(), 'plinth-upload-')))
    const temp = path.join(dir, randomBytes(8).toString('hex'))
    const chunks: Buffer[] = []
    let size = 0
    let head = 0
    const count = new Transform({
      transform(chunk: Buffer, _enc, done) {
        size += chunk.length
        if (size > maxBytes) return done(new ApiError('body_too_large', `The file ${JSON.stringify(filename.slice(0, 100))} is larger than ${maxBytes} bytes.`))
        if (head < SNIFF_BYTES) {
          chunks.push(chunk.subarray(0, SNIFF_BYTES - head))
          head += Math.min(chunk.length, SNIFF_BYTES - head)
        }
        done(null, chunk)
      },
    })
    await pipeline(file, count, createWriteStream(temp))
    const sniffed = await sniffType(Buffer.concat(chunks))
    return {
      name: storedName(filename, sniffed.ext),
      originalName: filename,
      size,
      mimeType: sniffed.mime,
      body: () => createReadStream(temp),
    }
  }

  async discard(): Promise<void> {
    const dir = this.dir && (await this.dir.catch(() => undefined))
    this.dir = undefined
    if (dir) await rm(dir, { recursive: true, force: true })
  }
}
