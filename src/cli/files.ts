/**
 * `plinth files copy --to URL`: copies every stored object from the configured files engine
 * (`files`, PLINTH_FILES) to another engine's URL, e.g. from the local folder onto S3 before
 * switching `files` over. Streams each object, hashing it (sha256) on the way, then reads it back
 * from the target and compares size and hash. An object the target already has with the same size
 * and hash is skipped, so an interrupted copy is finished by running it again.
 */
import { createHash } from 'node:crypto'
import { Transform, type Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { StartupError } from '../config/errors.ts'
import { maskUrl, parseFilesUrl, type FilesTarget } from '../config/urls.ts'
import type { FileStore, StoredObject } from '../files/files.ts'
import type { Logger } from '../log.ts'
import { configFromFlags } from './load.ts'
import type { CliFlags } from './main.ts'

/** Objects copied at once (each holds at most one 8 MiB part in memory on S3). */
const WIDTH = 4
/** Seconds between progress lines when stderr is not a terminal. */
const LINE_EVERY_MS = 5000

/** Opens a store from its parsed URL, importing only its engine (the AWS SDK only for s3://). */
async function openStore(target: FilesTarget, log?: Logger): Promise<FileStore> {
  if (target.engine === 'local') return (await import('../files/local.ts')).localStore({ dir: target.dir })
  return (await import('../files/s3.ts')).openS3Store(target, { log })
}

/** Where a target is, for telling source and target apart. */
function place(t: FilesTarget): string {
  return t.engine === 'local' ? `file:${t.dir}` : `s3:${t.endpoint ?? t.region}/${t.bucket}`
}

/** The sha256 (hex) of a stream, consuming it. */
async function sha256(body: Readable): Promise<string> {
  const hash = createHash('sha256')
  for await (const chunk of body) hash.update(chunk as Buffer)
  return hash.digest('hex')
}

async function hashOf(store: FileStore, key: string): Promise<string | undefined> {
  const found = await store.read(key)
  return found ? sha256(found.body) : undefined
}

type Outcome = 'copied' | 'present'

/** Copies one object, verified; 'present' when the target already had it. Throws on a mismatch. */
async function copyOne(from: FileStore, to: FileStore, object: StoredObject): Promise<Outcome> {
  const there = await to.stat(object.key)
  if (there && there.size === object.size) {
    const [a, b] = await Promise.all([hashOf(from, object.key), hashOf(to, object.key)])
    if (a !== undefined && a === b) return 'present'
  }
  const source = await from.read(object.key)
  if (!source) throw new Error('vanished from the source during the copy')
  const hash = createHash('sha256')
  const tap = new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk)
      done(null, chunk)
    },
  })
  const putting = to.put(object.key, tap, source.contentType ? { contentType: source.contentType } : {})
  await Promise.all([pipeline(source.body, tap), putting])
  const { size } = await putting
  const sent = hash.digest('hex')
  const back = await hashOf(to, object.key)
  if (size !== source.size || back !== sent) throw new Error(`verification failed (sent ${source.size} bytes sha256 ${sent}, the target has ${size} bytes sha256 ${back ?? 'none'})`)
  return 'copied'
}

/** Shows progress: a bar on a terminal, else a line every few seconds. */
async function progress(total: number): Promise<{ tick(bytes: number): void; stop(): void }> {
  let done = 0
  let bytes = 0
  if (process.stderr.isTTY) {
    const { SingleBar, Presets } = await import('cli-progress')
    const bar = new SingleBar({ stream: process.stderr, format: 'copying [{bar}] {value}/{total} objects, {mb} MB | {eta_formatted} left' }, Presets.shades_classic)
    bar.start(total, 0, { mb: '0.0' })
    return {
      tick(n) {
        bytes += n
        bar.increment(1, { mb: (bytes / 1e6).toFixed(1) })
      },
      stop: () => bar.stop(),
    }
  }
  const line = () => process.stderr.write(`files copy: ${done}/${total} objects, ${(bytes / 1e6).toFixed(1)} MB\n`)
  const timer = setInterval(line, LINE_EVERY_MS)
  timer.unref()
  return {
    tick(n) {
      done++
      bytes += n
    },
    stop() {
      clearInterval(timer)
      line()
    },
  }
}

/** `plinth files copy --to URL` (and `cleanup`, files-cleanup.ts); returns the exit code. */
export async function filesCommand(flags: CliFlags, args: string[]): Promise<number> {
  const [sub, ...rest] = args
  if (sub === 'cleanup' && !rest.length) return (await import('./files-cleanup.ts')).filesCleanupCommand(flags)
  if (sub !== 'copy' || rest.length) throw new StartupError(`files: expected "plinth files copy --to URL" or "plinth files cleanup [--dry-run]", got "plinth files ${args.join(' ')}"`)
  if (!flags.to) throw new StartupError('files copy: --to URL is required (file://PATH or s3://BUCKET?...)')
  const config = configFromFlags(flags)
  const fromTarget = parseFilesUrl(config.files, 'files')
  const toTarget = parseFilesUrl(flags.to, '--to')
  if (place(fromTarget) === place(toTarget)) throw new StartupError(`files copy: --to ${maskUrl(flags.to)} is the configured files engine itself`)
  const from = await openStore(fromTarget)
  const to = await openStore(toTarget)
  try {
    // A first pass counts the objects, for the bar; listing is cheap next to copying.
    let total = 0
    for await (const _ of from.list('')) total++
    const bar = await progress(total)
    const counts = { copied: 0, present: 0, failed: 0, bytes: 0 }
    const objects = from.list('')[Symbol.asyncIterator]()
    const failures: string[] = []
    const worker = async () => {
      for (let next = await objects.next(); !next.done; next = await objects.next()) {
        const object = next.value
        try {
          const outcome = await copyOne(from, to, object)
          counts[outcome]++
          if (outcome === 'copied') counts.bytes += object.size
        } catch (err) {
          counts.failed++
          failures.push(`files copy: ${object.key}: ${(err as Error).message}`)
        }
        bar.tick(object.size)
      }
    }
    // One listing shared by the workers: an async generator hands each object out once.
    await Promise.all(Array.from({ length: WIDTH }, worker))
    bar.stop()
    for (const f of failures) process.stderr.write(`${f}\n`)
    process.stdout.write(
      `files copy: ${total} objects to ${maskUrl(flags.to)}: ${counts.copied} copied (${(counts.bytes / 1e6).toFixed(1)} MB), ${counts.present} already there, ${counts.failed} failed\n`,
    )
    return counts.failed ? 1 : 0
  } finally {
    await Promise.all([from.close(), to.close()])
  }
}
