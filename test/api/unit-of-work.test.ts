/**
 * The records unit of work on every engine: changes are delivered after commit, in order, once
 * per outermost transaction; a rollback (a failed batch included) drops them and fires no
 * after-success hook; nested transactions and hooks that write join the open one; cascade
 * deletes report every record they touch.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { ApiError } from '../../src/errors.ts'
import { systemRequest } from '../../src/records/record.ts'
import type { RecordChange } from '../../src/records/unit-of-work.ts'
import { engines } from '../helpers/engines.ts'
import { startRecordsApp, type RecordsApp } from './records-app.ts'

const sys = systemRequest()
/** A change as `action collection title-or-id`, for readable assertions. */
const brief = (c: RecordChange) => `${c.action} ${c.collection.name} ${String(c.record.title ?? c.record.id)}${c.cascade ? ' (cascade)' : ''}`

for (const { engine, skip } of await engines()) {
  describe(`unit of work: ${engine}`, { skip }, () => {
    let t: RecordsApp
    /** Every delivered commit, as the list of its changes. */
    const commits: string[][] = []
    /** Every after-success hook call on `uow_*` collections, in order. */
    const successes: string[] = []
    const errors: string[] = []
    let parentsId = ''

    before(async () => {
      t = await startRecordsApp(engine)
      const open = { listRule: '', viewRule: '', createRule: '', updateRule: '', deleteRule: '' }
      await t.collection({ name: 'uow_notes', type: 'base', ...open, fields: [{ name: 'title', type: 'text', max: 20 }] })
      parentsId = (await t.collection({ name: 'uow_parents', type: 'base', ...open, fields: [{ name: 'title', type: 'text' }] })).id
      await t.collection({
        name: 'uow_children',
        type: 'base',
        ...open,
        fields: [
          { name: 'title', type: 'text' },
          { name: 'parent', type: 'relation', collectionId: parentsId, cascadeDelete: true, maxSelect: 1 },
        ],
      })
      await t.collection({
        name: 'uow_tags',
        type: 'base',
        ...open,
        fields: [
          { name: 'title', type: 'text' },
          { name: 'parents', type: 'relation', collectionId: parentsId, maxSelect: 5 },
        ],
      })
      const { app } = t
      app.records.onCommit((changes) => {
        commits.push(changes.filter((c) => c.collection.name.startsWith('uow_')).map(brief))
      })
      app.hooks.onRecordAfterCreateSuccess((e) => void successes.push(`create ${e.collection.name} ${String(e.record.title)}`))
      app.hooks.onRecordAfterUpdateSuccess((e) => void successes.push(`update ${e.collection.name} ${String(e.record.title)}`))
      app.hooks.onRecordAfterDeleteSuccess((e) => void successes.push(`delete ${e.collection.name} ${String(e.record?.title ?? e.id)}`))
      app.hooks.onRecordAfterCreateError((e) => void errors.push(`create ${e.collection.name}`))
      // A before hook that writes another record: it must join the write's transaction.
      app.hooks.onRecordCreate(async (e, next) => {
        await next()
        if (e.data.title === 'with-log') await app.records.create('uow_notes', { title: `log ${String(e.record?.id)}` }, sys)
        if (e.data.title === 'with-log-then-fail') {
          await app.records.create('uow_notes', { title: 'orphan log' }, sys)
          throw new ApiError('bad_request', 'Refused after the log was written.')
        }
      }, 'uow_parents')
    })
    after(async () => {
      await t?.close()
    })

    const reset = () => {
      commits.length = 0
      successes.length = 0
      errors.length = 0
    }
    const titles = async (collection: string): Promise<string[]> => {
      const list = await t.app.records.list(collection, { perPage: 1000, sort: 'title' }, sys)
      return list.items.map((r) => String(r.title))
    }

    test('a batch whose last request fails fires no after-success hook and no event, and writes nothing', async () => {
      reset()
      const url = '/api/collections/uow_notes/records'
      const res = await t.call('POST', '/api/batch', {
        token: t.su,
        body: { requests: [{ method: 'POST', url, body: { title: 'batch-a' } }, { method: 'POST', url, body: { title: 'batch-b' } }, { method: 'POST', url, body: { title: 'x'.repeat(21) } }] },
      })
      assert.equal(res.status, 400, res.raw)
      assert.deepEqual(commits, [])
      assert.deepEqual(successes, [])
      assert.deepEqual(errors, ['create uow_notes'], 'the failing write still tells its error hooks')
      assert.deepEqual(await titles('uow_notes'), [])
    })

    test('a batch that commits delivers its changes once, in request order, then the after-success hooks', async () => {
      reset()
      const url = '/api/collections/uow_notes/records'
      const res = await t.call('POST', '/api/batch', {
        token: t.su,
        body: { requests: [{ method: 'POST', url, body: { id: 'uowbatch0000001', title: 'b1' } }, { method: 'POST', url, body: { title: 'b2' } }, { method: 'PATCH', url: `${url}/uowbatch0000001`, body: { title: 'b1-edited' } }] },
      })
      assert.equal(res.status, 200, res.raw)
      assert.deepEqual(commits, [['create uow_notes b1', 'create uow_notes b2', 'update uow_notes b1-edited']])
      assert.deepEqual(successes, ['create uow_notes b1', 'create uow_notes b2', 'update uow_notes b1-edited'])
      await t.app.records.delete('uow_notes', 'uowbatch0000001', sys)
    })

    test('changes arrive only after commit: a listener reads them from outside the transaction', async () => {
      reset()
      const seen: (string | undefined)[] = []
      const off = t.app.records.onCommit(async (changes) => {
        // A plain read on the reader: it sees committed data only (and on SQLite it would wait
        // forever for the connection if the transaction were still open).
        for (const c of changes) {
          const row = await t.app.sql.reader().db.selectFrom(c.collection.name).select('title').where('id', '=', c.record.id).executeTakeFirst()
          seen.push(row?.title as string | undefined)
        }
      })
      try {
        await t.app.records.transaction(async (tx) => {
          await tx.create('uow_notes', { title: 'c1' }, sys)
          await tx.create('uow_notes', { title: 'c2' }, sys)
          assert.deepEqual(commits, [], 'nothing is delivered while the transaction is open')
        })
      } finally {
        off()
      }
      assert.deepEqual(seen, ['c1', 'c2'])
      assert.deepEqual(commits, [['create uow_notes c1', 'create uow_notes c2']])
    })

    test('app code: one transaction, changes in order (create, update, delete), reads see its own writes', async () => {
      reset()
      const result = await t.app.records.transaction(async (tx) => {
        const a = await tx.create('uow_notes', { title: 'o1' }, sys)
        await tx.update('uow_notes', a.id, { title: 'o1-edited' }, sys)
        const b = await tx.create('uow_notes', { title: 'o2' }, sys)
        await tx.delete('uow_notes', b.id, sys)
        // Reads inside go to the transaction, so they see what it wrote.
        assert.equal((await tx.view('uow_notes', a.id, sys)).title, 'o1-edited')
        assert.equal((await t.app.records.list('uow_notes', { filter: "title = 'o1-edited'" }, sys)).totalItems, 1)
        return a.id
      })
      assert.equal(typeof result, 'string')
      assert.deepEqual(commits, [['create uow_notes o1', 'update uow_notes o1-edited', 'create uow_notes o2', 'delete uow_notes o2']])
      assert.deepEqual(successes, ['create uow_notes o1', 'update uow_notes o1-edited', 'create uow_notes o2', 'delete uow_notes o2'])
    })

    test('a nested transaction joins the outer one: one delivery, and a rollback of the outer undoes the inner', async () => {
      reset()
      await t.app.records.transaction(async (outer) => {
        await outer.create('uow_notes', { title: 'n1' }, sys)
        await t.app.records.transaction(async (inner) => {
          await inner.create('uow_notes', { title: 'n2' }, sys)
          assert.deepEqual(commits, [], 'the inner transaction does not commit on its own')
        })
        await outer.transaction(async (same) => {
          assert.equal(same, outer)
          await same.create('uow_notes', { title: 'n3' }, sys)
        })
      })
      assert.deepEqual(commits, [['create uow_notes n1', 'create uow_notes n2', 'create uow_notes n3']])

      reset()
      await assert.rejects(
        t.app.records.transaction(async (outer) => {
          await outer.create('uow_notes', { title: 'r1' }, sys)
          await t.app.records.transaction((inner) => inner.create('uow_notes', { title: 'r2' }, sys))
          throw new Error('changed my mind')
        }),
        /changed my mind/,
      )
      assert.deepEqual(commits, [])
      assert.deepEqual(successes, [])
      assert.equal((await titles('uow_notes')).filter((x) => x.startsWith('r')).length, 0)
    })

    test('rollback drops the changes; a finished transaction handle refuses to be used', async () => {
      reset()
      let leaked: Parameters<Parameters<typeof t.app.records.transaction>[0]>[0] | undefined
      await assert.rejects(
        t.app.records.transaction(async (tx) => {
          leaked = tx
          await tx.create('uow_notes', { title: 'gone' }, sys)
          await tx.create('uow_notes', { title: 'x'.repeat(21) }, sys)
        }),
        (e: ApiError) => e.status === 400,
      )
      assert.deepEqual(commits, [])
      assert.deepEqual(successes, [])
      assert.ok(!(await titles('uow_notes')).includes('gone'))
      await assert.rejects(leaked!.create('uow_notes', { title: 'late' }, sys), /already finished/)
    })

    test('a record written by a before hook joins the write: both commit together, or neither', async () => {
      reset()
      const parent = await t.app.records.create('uow_parents', { title: 'with-log' }, sys)
      assert.deepEqual(commits, [['create uow_parents with-log', `create uow_notes log ${parent.id}`]])

      reset()
      await assert.rejects(t.app.records.create('uow_parents', { title: 'with-log-then-fail' }, sys), /Refused after the log/)
      assert.deepEqual(commits, [])
      assert.deepEqual(errors, ['create uow_parents'])
      assert.ok(!(await titles('uow_notes')).includes('orphan log'))
      assert.ok(!(await titles('uow_parents')).includes('with-log-then-fail'))
    })

    test('a cascade delete reports every record it deletes or changes, and runs their delete hooks', async () => {
      const parent = await t.app.records.create('uow_parents', { title: 'p' }, sys)
      const other = await t.app.records.create('uow_parents', { title: 'q' }, sys)
      await t.app.records.create('uow_children', { title: 'child', parent: parent.id }, sys)
      await t.app.records.create('uow_tags', { title: 'tag', parents: [parent.id, other.id] }, sys)
      const before: string[] = []
      t.app.hooks.onRecordDelete(async (e, next) => {
        before.push(`${e.collection.name} ${String(e.record?.title ?? e.id)}`)
        await next()
      }, 'uow_children')
      reset()
      await t.app.records.delete('uow_parents', parent.id, sys)
      assert.deepEqual(commits, [['delete uow_parents p', 'delete uow_children child (cascade)', 'update uow_tags tag (cascade)']])
      assert.deepEqual(successes, ['delete uow_parents p', 'delete uow_children child', 'update uow_tags tag'])
      assert.deepEqual(before, ['uow_children child'])
      const tag = (await t.app.records.list('uow_tags', {}, sys)).items[0]!
      assert.deepEqual(tag.parents, [other.id])
    })
  })
}
