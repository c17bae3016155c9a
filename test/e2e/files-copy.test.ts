/**
 * `plinth files copy` end to end: the real command moves a local folder onto S3 (s3rver), a second
 * run copies nothing, an object changed on the target is copied again, and the bucket is copied
 * back into a new folder byte for byte. An operator's mistake is one line and exit 2.
 */
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import type { Readable } from 'node:stream'
import { after, before, describe, test } from 'node:test'
import type { FileStore } from '../../src/files/files.ts'
import { localStore } from '../../src/files/local.ts'
import { openS3Store, PART_BYTES } from '../../src/files/s3.ts'
import { runCli } from '../helpers/cli.ts'
import { startS3rver, type LocalS3 } from '../helpers/s3.ts'

async function sha256(body: Readable): Promise<string> {
  const h = createHash('sha256')
  for await (const c of body) h.update(c as Buffer)
  return h.digest('hex')
}

/** Every object's key, size and sha256. */
async function inventory(store: FileStore): Promise<string[]> {
  const out: string[] = []
  for await (const o of store.list('')) out.push(`${o.key} ${o.size} ${await sha256((await store.read(o.key))!.body)}`)
  return out
}

describe('plinth files copy', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'plinth-files-copy-'))
  const source = path.join(dir, 'storage')
  let s3: LocalS3
  let bucket: FileStore
  let expected: string[]

  before(async () => {
    s3 = await startS3rver(['copy-target'])
    bucket = openS3Store(s3.target('copy-target'))
    const local = localStore({ dir: source })
    for (let i = 0; i < 40; i++) await local.put(`col${i % 3}/rec${i}/file_${i}.bin`, randomBytes(1000 + i * 37))
    // One bigger than a part, so the copy to S3 goes as a multipart upload.
    await local.put('col0/big/video.mp4', randomBytes(PART_BYTES + 4321))
    await local.put('col1/rec1/thumbs_file_1.bin/100x100_file_1.bin', Buffer.alloc(0))
    expected = await inventory(local)
  })
  after(async () => {
    await bucket?.close()
    await s3?.close()
    rmSync(dir, { recursive: true, force: true })
  })

  const env = () => ({ PLINTH_DIR: path.join(dir, 'data'), PLINTH_FILES: `file://${source}` })

  test('local -> S3, verified; a second run copies nothing; a changed object is copied again', async () => {
    const first = await runCli(['files', 'copy', '--to', s3.url('copy-target')], env(), dir)
    assert.equal(first.code, 0, first.stderr)
    assert.match(first.stdout, /^files copy: 42 objects to s3:\/\/S3RVER:\*\*\*\*@copy-target\S*: 42 copied \(\d+\.\d MB\), 0 already there, 0 failed\n$/)
    assert.match(first.stderr, /files copy: 42\/42 objects/)
    assert.doesNotMatch(first.stdout + first.stderr, /S3RVER@|:S3RVER@/)
    assert.deepEqual(await inventory(bucket), expected)

    const again = await runCli(['files', 'copy', '--to', s3.url('copy-target')], env(), dir)
    assert.equal(again.code, 0, again.stderr)
    assert.match(again.stdout, / 0 copied \(0\.0 MB\), 42 already there, 0 failed/)

    // Same size, other bytes: only a checksum tells, and only that object goes again.
    await bucket.put('col2/rec2/file_2.bin', randomBytes(1000 + 2 * 37))
    const third = await runCli(['files', 'copy', '--to', s3.url('copy-target')], env(), dir)
    assert.equal(third.code, 0, third.stderr)
    assert.match(third.stdout, / 1 copied \(0\.0 MB\), 41 already there, 0 failed/)
    assert.deepEqual(await inventory(bucket), expected)
  })

  test('S3 -> a new local folder, byte for byte', async () => {
    const back = path.join(dir, 'back')
    const res = await runCli(['files', 'copy', '--to', `file://${back}`], { ...env(), PLINTH_FILES: s3.url('copy-target') }, dir)
    assert.equal(res.code, 0, res.stderr)
    assert.match(res.stdout, / 42 copied /)
    assert.deepEqual(await inventory(localStore({ dir: back })), expected)
  })

  test('operator mistakes: one line, exit 2', async () => {
    for (const [args, message] of [
      [['files', 'copy', '--to', 'ftp://example.com/x'], /--to: unsupported scheme "ftp"/],
      [['files', 'copy', '--to', 's3://Bad_Bucket'], /--to: "bad_bucket" is not a bucket name|--to: .*bucket/],
      [['files', 'copy'], /--to URL is required/],
      [['files', 'move', '--to', 'file:///tmp/x'], /expected "plinth files copy --to URL"/],
      [['files', 'copy', '--to', `file://${source}`], /is the configured files engine itself/],
    ] as const) {
      const res = await runCli([...args], env(), dir)
      assert.equal(res.code, 2, `${args.join(' ')}: ${res.stderr}`)
      assert.match(res.stderr, message)
      assert.equal(res.stderr.trim().split('\n').length, 1, res.stderr)
    }
  })
})
