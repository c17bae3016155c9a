/**
 * The files clean-up pass on the local engine and on S3 (s3rver): orphaned files and thumbs,
 * direct uploads never confirmed and (local) temp files of unfinished writes go once older than
 * the grace period; what records hold stays; a dry run removes nothing; the daily cron is there.
 * And `plinth files cleanup` end to end.
 */
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { describe, test } from 'node:test'
import { cleanupFiles, FILES_CLEANUP_CRON } from '../../src/files/cleanup.ts'
import { startRecordsApp } from '../api/records-app.ts'
import { runCli } from '../helpers/cli.ts'
import { formData, storedKeys } from '../helpers/files.ts'
import { startS3rver } from '../helpers/s3.ts'

const HOUR = 3_600_000

for (const engine of ['local', 's3'] as const) {
  test(`cleanup (${engine}): orphans, unconfirmed direct uploads and unfinished writes older than the grace go; held files stay`, async () => {
    const s3 = engine === 's3' ? await startS3rver(['cleanup-test']) : undefined
    const localDir = mkdtempSync(path.join(tmpdir(), 'plinth-cleanup-'))
    const t = await startRecordsApp('sqlite', { files: s3 ? s3.url('cleanup-test') : `file://${localDir}` })
    try {
      const { id: cid } = await t.collection({ name: 'docs', type: 'base', createRule: '', viewRule: '', fields: [{ name: 'att', type: 'file', maxSelect: 2 }] })
      const { payload, contentType } = formData([{ name: 'att', file: { filename: 'a.txt', data: Buffer.from('kept') } }])
      const res = await t.app.http.inject({ method: 'POST', url: '/api/collections/docs/records', payload, headers: { 'content-type': contentType } })
      const rec = JSON.parse(res.body) as { id: string; att: string[] }
      const files = t.app.files
      const kept = `${cid}/${rec.id}/${rec.att[0]}`
      const orphans = [`${cid}/${rec.id}/gone_0000000000.txt`, `${cid}/${rec.id}/thumbs_gone_0000000000.txt/10x10_gone_0000000000.txt`, `${cid}/norecord000000x/x.txt`]
      const pending = ['_pending/up1/data', '_pending/up1/upload.json']
      for (const k of [...orphans, ...pending]) await files.put(k, Buffer.from('xx'))
      // A put that never finished (the process died mid-write): only the local engine leaves one.
      const temp = `${cid}/${rec.id}/.tmp-0123456789abcdef`
      if (!s3) writeFileSync(path.join(localDir, ...temp.split('/')), 'half')
      const opts = { files, registry: t.app.collections, db: t.app.sql.writer().db }

      const young = await cleanupFiles(opts)
      assert.equal(young.found, 0, 'everything is younger than the grace period')

      const later = new Date(Date.now() + 2 * HOUR)
      const before = await storedKeys(files)
      const dry = await cleanupFiles({ ...opts, now: later, dryRun: true })
      assert.deepEqual(dry.keys, [...[...orphans, ...pending].sort(), ...(s3 ? [] : [temp])])
      assert.deepEqual({ orphans: dry.orphans, pending: dry.pending, leftovers: dry.leftovers }, { orphans: 3, pending: 2, leftovers: s3 ? 0 : 1 })
      assert.equal(dry.bytes, 10 + (s3 ? 0 : 4))
      assert.deepEqual(await storedKeys(files), before, 'a dry run removes nothing')

      const progress: number[] = []
      const done = await cleanupFiles({ ...opts, now: later, onProgress: (p) => progress.push(p.found) })
      assert.deepEqual(done.keys, dry.keys)
      assert.equal(progress.at(-1), dry.keys.length)
      assert.deepEqual(await storedKeys(files), [kept])
      if (!s3) {
        const left: string[] = []
        for await (const o of files.leftovers!(later)) left.push(o.key)
        assert.deepEqual(left, [], 'the temp file is gone too')
      }
      const served = await t.app.http.inject({ method: 'GET', url: `/api/files/docs/${rec.id}/${rec.att[0]}` })
      assert.equal(served.body, 'kept')
      assert.equal((await cleanupFiles({ ...opts, now: later })).found, 0, 'a second pass finds nothing')

      // The daily cron is registered and runs the same pass (nothing old enough here).
      assert.ok(t.app.jobs.crons().some((c) => c.id === FILES_CLEANUP_CRON.id && c.expression === FILES_CLEANUP_CRON.expression))
      await files.put(orphans[0]!, Buffer.from('new'))
      assert.equal(await t.app.jobs.runCron(FILES_CLEANUP_CRON.id), true)
      assert.deepEqual(await storedKeys(files), [orphans[0]!, kept].sort(), 'a fresh object is not touched')
    } finally {
      await t.close()
      await s3?.close()
      rmSync(localDir, { recursive: true, force: true })
    }
  })
}

describe('plinth files cleanup', () => {
  test('--dry-run lists what would go; a real run removes it; a bad --grace is one line and exit 2', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'plinth-cleanup-cli-'))
    try {
      const storage = path.join(dir, 'storage')
      const env = { PLINTH_DIR: path.join(dir, 'data'), PLINTH_FILES: `file://${storage}` }
      const old = new Date(Date.now() - 3 * HOUR)
      const put = (key: string, when: Date) => {
        const file = path.join(storage, ...key.split('/'))
        mkdirSync(path.dirname(file), { recursive: true })
        writeFileSync(file, 'x')
        utimesSync(file, when, when)
      }
      // No collection has these ids: every old object is an orphan.
      for (const k of ['pbc_1/r1/a.txt', 'pbc_1/r1/thumbs_a.txt/10x10_a.txt', '_pending/u1/data', 'pbc_2/r2/.tmp-00ff']) put(k, old)
      put('pbc_3/r3/fresh.txt', new Date())

      const dry = await runCli(['files', 'cleanup', '--dry-run'], env, dir)
      assert.equal(dry.code, 0, dry.stderr)
      assert.equal(dry.stdout, [
        '_pending/u1/data', 'pbc_1/r1/a.txt', 'pbc_1/r1/thumbs_a.txt/10x10_a.txt', 'pbc_2/r2/.tmp-00ff',
        'files cleanup (dry run): 5 objects scanned; would remove 2 orphaned files and thumbs, 1 unconfirmed direct uploads, 1 unfinished writes (0.0 MB)', '',
      ].join('\n'))

      const grace = await runCli(['files', 'cleanup', '--grace', '4h'], env, dir)
      assert.equal(grace.code, 0, grace.stderr)
      assert.match(grace.stdout, /removed 0 orphaned/, 'nothing is older than 4 hours')

      const real = await runCli(['files', 'cleanup'], env, dir)
      assert.equal(real.code, 0, real.stderr)
      assert.match(real.stdout, /^files cleanup: 5 objects scanned; removed 2 orphaned files and thumbs, 1 unconfirmed direct uploads, 1 unfinished writes \(0\.0 MB\)\n$/)
      const again = await runCli(['files', 'cleanup', '--dry-run'], env, dir)
      assert.match(again.stdout, /^files cleanup \(dry run\): 1 objects scanned; would remove 0 /)

      const bad = await runCli(['files', 'cleanup', '--grace', '1m'], env, dir)
      assert.equal(bad.code, 2)
      assert.equal(bad.stderr.trim().split('\n').length, 1, bad.stderr)
      assert.match(bad.stderr, /--grace "1m" must be a duration like 30m, 2h or 7d, at least 15m/)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
