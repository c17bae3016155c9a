/** Orphan clean-up over a real app, and thumbs made once however many ask at the same time. */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { test } from 'node:test'
import type { FileStore } from '../../src/files/files.ts'
import { localStore } from '../../src/files/local.ts'
import { findOrphans, removeOrphans } from '../../src/files/orphans.ts'
import { Thumbs } from '../../src/files/thumbs.ts'
import { createLogger } from '../../src/log.ts'
import { startRecordsApp } from '../api/records-app.ts'
import { formData, png, storedKeys } from '../helpers/files.ts'

test('orphans: objects no record points at, old enough, are found and removed; the rest stay', async () => {
  const t = await startRecordsApp('sqlite')
  try {
    const { id: cid } = await t.collection({ name: 'notes', type: 'base', createRule: '', fields: [{ name: 'att', type: 'file', maxSelect: 3 }] })
    const { payload, contentType } = formData([{ name: 'att', file: { filename: 'a.txt', data: Buffer.from('a') } }])
    const res = await t.app.http.inject({ method: 'POST', url: '/api/collections/notes/records', payload, headers: { 'content-type': contentType } })
    const rec = JSON.parse(res.body) as { id: string; att: string[] }
    const files = t.app.files
    const kept = `${cid}/${rec.id}/${rec.att[0]}`
    const keptThumb = `${cid}/${rec.id}/thumbs_${rec.att[0]}/10x10_${rec.att[0]}`
    const orphans = [`${cid}/${rec.id}/gone.txt`, `${cid}/${rec.id}/thumbs_gone.txt/10x10_gone.txt`, `${cid}/norecord000000/x.txt`, `nocollection/r/x.txt`, 'stray']
    for (const k of [keptThumb, ...orphans]) await files.put(k, Buffer.from('x'))
    const opts = { files, registry: t.app.collections, db: t.app.sql.writer().db }
    const found: string[] = []
    for await (const k of findOrphans(opts)) found.push(k)
    assert.deepEqual(found, [], 'everything is younger than an hour')
    const later = new Date(Date.now() + 2 * 3_600_000)
    assert.deepEqual(await removeOrphans({ ...opts, now: later }), [...orphans].sort())
    assert.deepEqual(await storedKeys(files), [kept, keptThumb].sort())
  } finally {
    await t.close()
  }
})

test('thumbs: twenty concurrent requests for one thumb generate it once; a bomb is refused from its header', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'plinth-thumbs-'))
  try {
    const inner = localStore({ dir })
    let puts = 0
    const files: FileStore = { ...inner, put: (k, b, o) => (puts++, inner.put(k, b, o)) }
    await inner.put('c/r/a.png', await png(400, 300))
    const thumbs = new Thumbs({ files, log: createLogger({ logLevel: 'silent' }), concurrency: 2 })
    const types = await Promise.all(Array.from({ length: 20 }, () => thumbs.ensure('c/r/a.png', 'c/r/thumbs_a.png/20x20_a.png', '20x20', 'image/png')))
    assert.deepEqual(new Set(types), new Set(['image/png']))
    assert.equal(thumbs.generated, 1)
    assert.equal(puts, 1)
    assert.equal(await thumbs.ensure('c/r/a.png', 'c/r/thumbs_a.png/20x20_a.png', '20x20', 'image/png'), 'image/png')
    assert.equal(thumbs.generated, 1, 'kept: not made again')
    // Several sizes at once, two at a time: each made once.
    await Promise.all(['1x1', '2x2', '3x3', '4x4', '5x5'].flatMap((s) => [s, s].map(() => thumbs.ensure('c/r/a.png', `c/r/thumbs_a.png/${s}_a.png`, s, 'image/png'))))
    assert.equal(thumbs.generated, 6)
    const small = new Thumbs({ files, log: createLogger({ logLevel: 'silent' }), maxPixels: 1000 })
    assert.equal(await small.ensure('c/r/a.png', 'c/r/thumbs_a.png/9x9_a.png', '9x9', 'image/png'), null, '120000 pixels is over the bound')
    assert.equal(await files.stat('c/r/thumbs_a.png/9x9_a.png'), null)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
