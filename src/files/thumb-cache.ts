/**
 * Thumbs already served, kept in memory (least recently used first out, bounded by total bytes),
 * so a cached thumb costs the record lookup (its rules and whether it still holds the file) and
 * no storage round trip: no stat, open, read and close on the local engine, no HEAD and GET on S3.
 *
 * Safe because a thumb's key names its original's stored name, which is unique and never reused
 * for other bytes (uploads always get a fresh random suffix): while the record holds that name,
 * the thumb under that key is the same bytes. When the record lets go of the file, the files API
 * answers 404 from the record before it looks here, so a stale entry is never served; it just
 * ages out.
 */
import type { StoredObject } from './files.ts'

export interface CachedThumb {
  object: StoredObject
  /** The thumb's sniffed (or stored) media type. */
  type: string
  bytes: Buffer
}

export interface ThumbCacheOptions {
  /** Total bytes kept; default 16 MiB. 0 turns the cache off. */
  maxBytes?: number
  /** The largest thumb kept; default 64 KiB (bigger ones are read from storage every time). */
  maxEntryBytes?: number
}

export class ThumbCache {
  private readonly entries = new Map<string, CachedThumb>()
  private held = 0
  readonly maxBytes: number
  readonly maxEntryBytes: number

  constructor(opts: ThumbCacheOptions = {}) {
    this.maxBytes = opts.maxBytes ?? 16 << 20
    this.maxEntryBytes = Math.min(opts.maxEntryBytes ?? 64 << 10, this.maxBytes)
  }

  /** Whether a thumb of `size` bytes would be kept. */
  fits(size: number): boolean {
    return size <= this.maxEntryBytes && this.maxBytes > 0
  }

  get(key: string): CachedThumb | undefined {
    const hit = this.entries.get(key)
    if (hit) {
      // Most recently used last: Map keeps insertion order.
      this.entries.delete(key)
      this.entries.set(key, hit)
    }
    return hit
  }

  set(key: string, entry: CachedThumb): void {
    if (!this.fits(entry.bytes.length)) return
    this.delete(key)
    this.entries.set(key, entry)
    this.held += entry.bytes.length
    for (const [oldest, e] of this.entries) {
      if (this.held <= this.maxBytes) break
      this.entries.delete(oldest)
      this.held -= e.bytes.length
    }
  }

  delete(key: string): void {
    const e = this.entries.get(key)
    if (!e) return
    this.entries.delete(key)
    this.held -= e.bytes.length
  }

  /** Bytes held now (tests). */
  get size(): number {
    return this.held
  }
}
