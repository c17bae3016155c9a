/**
 * Thumbs, PocketBase's way: `WxH` (fill, cropped from the centre), `WxHt` / `WxHb` (cropped from
 * the top / bottom), `WxHf` (fit inside, never enlarged), `0xH` / `Wx0` (keep the aspect ratio).
 * Made once from the original by sharp (imported on first use), stored beside it under
 * `thumbs_{name}/{size}_{name}`, and served from there afterwards.
 *
 * Bounded: concurrent requests for the same thumb share one generation (in this process), at most
 * `concurrency` generate at a time, and an original that declares more than `maxPixels` pixels is
 * refused from its header, before anything is decoded (an image bomb costs nothing).
 */
import { availableParallelism } from 'node:os'
import type { Logger } from '../log.ts'
import type { FileStore } from './files.ts'

export const THUMB_SIZE = /^(\d{1,5})x(\d{1,5})([tbf])?$/
/** The image types PocketBase makes thumbs of; any other file is served as it is. */
export const THUMB_SOURCE_TYPES = new Set(['image/png', 'image/jpg', 'image/jpeg', 'image/gif', 'image/webp'])
/** PocketBase's size every file field allows, beside those in its `thumbs` option. */
export const DEFAULT_THUMB_SIZES = ['100x100']

export interface ThumbsOptions {
  files: FileStore
  log: Logger
  /** The largest original, in pixels (width x height), a thumb is made from; default 50 megapixels. */
  maxPixels?: number
  /** Thumbs generated at once; default the CPU count + 2 (PocketBase's). */
  concurrency?: number
}

export class Thumbs {
  private readonly pending = new Map<string, Promise<string | null>>()
  private readonly waiting: (() => void)[] = []
  private running = 0
  private readonly maxPixels: number
  private readonly concurrency: number
  /** How many thumbs this process generated (tests check "once"). */
  generated = 0

  constructor(private readonly opts: ThumbsOptions) {
    this.maxPixels = opts.maxPixels ?? 50_000_000
    this.concurrency = opts.concurrency ?? availableParallelism() + 2
  }

  /**
   * The thumb `size` of the image at `originalKey` (whose type is `contentType`), stored at
   * `thumbKey`: made now unless it exists. Resolves with the thumb's content type, or null when
   * none can be made (the caller serves the original, as PocketBase does).
   */
  ensure(originalKey: string, thumbKey: string, size: string, contentType: string): Promise<string | null> {
    let p = this.pending.get(thumbKey)
    if (!p) {
      p = this.make(originalKey, thumbKey, size, contentType).finally(() => this.pending.delete(thumbKey))
      this.pending.set(thumbKey, p)
    }
    return p
  }

  private async make(originalKey: string, thumbKey: string, size: string, contentType: string): Promise<string | null> {
    const outType = contentType === 'image/jpeg' || contentType === 'image/jpg' ? 'image/jpeg' : contentType === 'image/gif' ? 'image/gif' : 'image/png'
    const existing = await this.opts.files.stat(thumbKey)
    if (existing) return existing.contentType ?? outType
    const m = THUMB_SIZE.exec(size)
    const width = Number(m?.[1] ?? 0)
    const height = Number(m?.[2] ?? 0)
    if (!m || (width === 0 && height === 0)) return null
    await this.slot()
    let source: NodeJS.ReadableStream & { destroy(): void } | undefined
    try {
      // Another request may have made it while this one waited for a slot.
      if (await this.opts.files.stat(thumbKey)) return outType
      const original = await this.opts.files.read(originalKey)
      if (!original) return null
      source = original.body
      const { default: sharp } = await import('sharp')
      const image = sharp({ limitInputPixels: this.maxPixels, failOn: 'error' }).rotate()
      original.body.on('error', (err) => image.destroy(err))
      original.body.pipe(image)
      if (width === 0 || height === 0) image.resize(width || null, height || null)
      else if (m[3] === 'f') image.resize(width, height, { fit: 'inside', withoutEnlargement: true })
      else image.resize(width, height, { fit: 'cover', position: m[3] === 't' ? 'top' : m[3] === 'b' ? 'bottom' : 'centre' })
      if (outType === 'image/jpeg') image.jpeg()
      else if (outType === 'image/gif') image.gif()
      else image.png()
      const bytes = await image.toBuffer()
      await this.opts.files.put(thumbKey, bytes, { contentType: outType })
      this.generated++
      return outType
    } catch (err) {
      this.opts.log.warn({ err, original: originalKey, size }, 'files: cannot make the thumb, serving the original')
      return null
    } finally {
      source?.destroy()
      this.release()
    }
  }

  private async slot(): Promise<void> {
    if (this.running < this.concurrency) {
      this.running++
      return
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve))
  }

  private release(): void {
    const next = this.waiting.shift()
    if (next) next()
    else this.running--
  }
}
