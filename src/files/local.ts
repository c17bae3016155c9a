/**
 * The local files engine: one folder (`file://PATH`), keys as relative paths inside it. A put
 * streams into a temp file beside its destination and renames it into place, so a reader sees the
 * old object or the whole new one, and an upload that fails (or runs over `maxBytes`) leaves
 * nothing. Temp files start with `.tmp-`, a name no safe key segment produced by Plinth has, and
 * `list` skips them.
 */
import { randomBytes } from 'node:crypto'
import { close, createReadStream, createWriteStream, open, read } from 'node:fs'
import { mkdir, opendir, rename, rm, stat, unlink } from 'node:fs/promises'
import path from 'node:path'
import { Readable, Transform } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { assertSafeKey, type ByteRange, type FileStore, type PutOptions, type ReadResult, type StoredObject } from './files.ts'

/** Thrown by `put` when the body runs over `maxBytes`; nothing is stored. */
export class TooLargeError extends Error {
  constructor(readonly maxBytes: number) {
    super(`files: the body is larger than ${maxBytes} bytes`)
    this.name = 'TooLargeError'
  }
}

const TEMP_PREFIX = '.tmp-'
/** A `known` whole-object read of up to this many bytes is one open, one read and one close. */
const SMALL_OBJECT = 64 * 1024

/**
 * The whole of a file believed to be `size` bytes, read at once (callback fs: no FileHandle and
 * no stream for a thumb-sized file); null when it is missing or not `size` bytes any more (it was
 * replaced since it was looked at: the caller looks again).
 */
function readWhole(file: string, size: number): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    open(file, 'r', (err, fd) => {
      if (err) return isMissing(err) ? resolve(null) : reject(err)
      const buf = Buffer.allocUnsafe(size + 1)
      read(fd, buf, 0, size + 1, 0, (readErr, n) => {
        close(fd, () => {
          if (readErr) reject(readErr)
          else resolve(n === size ? buf.subarray(0, n) : null)
        })
      })
    })
  })
}

/** Counts bytes through, failing once there are more than `max`. */
function byteLimit(max: number): Transform {
  let seen = 0
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      seen += chunk.length
      if (seen > max) done(new TooLargeError(max))
      else done(null, chunk)
    },
  })
}

const isMissing = (err: unknown) => (err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR'

export interface LocalStoreOptions {
  /** The folder, absolute; made on the first write. */
  dir: string
}

/** Opens the folder `dir` as a file store. */
export function localStore(opts: LocalStoreOptions): FileStore {
  const root = path.resolve(opts.dir)
  const fileOf = (key: string) => {
    assertSafeKey(key)
    return path.join(root, ...key.split('/'))
  }

  async function statFile(key: string): Promise<StoredObject | null> {
    try {
      const s = await stat(fileOf(key))
      return s.isFile() ? { key, size: s.size, modified: s.mtime } : null
    } catch (err) {
      if (isMissing(err)) return null
      throw err
    }
  }

  /**
   * Every file under `dir` (relative key `base`), depth first in key order, temp files skipped;
   * with `temps`, the temp files only.
   */
  async function* walk(dir: string, base: string, temps = false): AsyncGenerator<StoredObject> {
    let entries: { name: string; dir: boolean }[]
    try {
      const handle = await opendir(dir)
      entries = []
      for await (const e of handle) if (e.isDirectory() || e.name.startsWith(TEMP_PREFIX) === temps) entries.push({ name: e.name, dir: e.isDirectory() })
    } catch (err) {
      if (isMissing(err)) return
      throw err
    }
    // Key order compares whole keys: a folder `a` sorts as `a/`, so `a-b` comes before `a/x`.
    entries.sort((x, y) => cmp(x.dir ? `${x.name}/` : x.name, y.dir ? `${y.name}/` : y.name))
    for (const e of entries) {
      const key = base + e.name
      if (e.dir) yield* walk(path.join(dir, e.name), `${key}/`, temps)
      else {
        const s = await statFile(key)
        if (s) yield s
      }
    }
  }

  return {
    name: 'local',

    async put(key, body, options: PutOptions = {}) {
      const file = fileOf(key)
      await mkdir(path.dirname(file), { recursive: true })
      const temp = path.join(path.dirname(file), `${TEMP_PREFIX}${randomBytes(8).toString('hex')}`)
      const source = Buffer.isBuffer(body) ? Readable.from([body]) : body
      try {
        const out = createWriteStream(temp, { flags: 'wx' })
        if (options.maxBytes !== undefined) await pipeline(source, byteLimit(options.maxBytes), out)
        else await pipeline(source, out)
        const { size } = await stat(temp)
        await rename(temp, file)
        return { size }
      } catch (err) {
        await unlink(temp).catch(() => undefined)
        throw err
      }
    },

    async read(key, range?: ByteRange, known?: StoredObject): Promise<ReadResult | null> {
      if (known?.key === key && !range && known.size <= SMALL_OBJECT) {
        const bytes = await readWhole(fileOf(key), known.size)
        if (bytes) return { ...known, bytes, body: Readable.from([bytes]) }
      }
      const s = await statFile(key)
      if (!s) return null
      if (range && (range.start < 0 || range.end < range.start || range.start >= s.size)) throw new RangeError('files: range outside the object')
      const body = createReadStream(fileOf(key), range ? { start: range.start, end: Math.min(range.end, s.size - 1) } : {})
      return { ...s, body }
    },

    stat: statFile,

    async delete(key) {
      try {
        await unlink(fileOf(key))
      } catch (err) {
        if (!isMissing(err)) throw err
      }
    },

    async deletePrefix(prefix) {
      if (!prefix.endsWith('/')) throw new Error(`files: a prefix must end with "/", got ${JSON.stringify(prefix)}`)
      const dir = fileOf(prefix.slice(0, -1))
      let n = 0
      for await (const _ of walk(dir, prefix)) n++
      await rm(dir, { recursive: true, force: true })
      return n
    },

    list(prefix) {
      // A prefix need not end at a folder: `a/b` lists `a/b/...` and `a/bc`; walk the nearest folder.
      const cut = prefix.lastIndexOf('/')
      const base = cut < 0 ? '' : prefix.slice(0, cut + 1)
      if (base) assertSafeKey(base.slice(0, -1))
      const dir = base ? fileOf(base.slice(0, -1)) : root
      return (async function* () {
        for await (const o of walk(dir, base)) if (o.key.startsWith(prefix)) yield o
      })()
    },

    async *leftovers(before: Date) {
      for await (const o of walk(root, '', true)) if (o.modified.getTime() <= before.getTime()) yield o
    },

    async close() {},
  } satisfies FileStore
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}
