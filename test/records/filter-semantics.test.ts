/**
 * Where the filter language's meaning follows PocketBase to the letter, on every SQL engine:
 * field-to-field comparisons, multi values (`?` operators, empty sets, raw `~`), LIKE escapes,
 * NULL and empty values, functions (`strftime`, `geoDistance`) and `@rowid`.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import { ApiError } from '../../src/errors.ts'
import { compileFilter, compileSort } from '../../src/records/filter/index.ts'
import { prepareRecord, rowToRecord } from '../../src/records/fields/index.ts'
import { ROWID_COLUMN } from '../../src/records/columns.ts'
import type { Collection } from '../../src/records/model.ts'
import { rowidIndexMigration, rowidMigration } from '../../src/records/collections/migrations.ts'
import PocketBase from 'pocketbase'
import { createPlinth, type Plinth } from '../../src/app.ts'
import { createSuperuser } from '../../src/auth/superusers.ts'
import { createLogger } from '../../src/log.ts'
import { isAuthCollection } from '../../src/records/model.ts'
import { createTestDb, engines, type TestDb } from '../helpers/engines.ts'
import { id, openFixture, type Fixture } from './filter-fixture.ts'
import { NO_RATE_LIMITS } from '../helpers/app.ts'

const N = [1, 2, 3, 4].map((n) => id('note', n)) as [string, string, string, string]
const [n1, n2, n3, n4] = N

for (const { engine, skip } of await engines()) {
  describe(`filter semantics: ${engine}`, { skip }, () => {
    let fx: Fixture
    let notes: Collection
    before(async () => {
      fx = await openFixture(engine)
      notes = await fx.store.create({
        name: 'notes',
        listRule: '',
        fields: [
          { name: 'a', type: 'text' },
          { name: 'b', type: 'text' },
          { name: 'tags', type: 'select', values: ['a', 'b', 'c'], maxSelect: 3 },
          { name: 'n', type: 'number' },
          { name: 'j', type: 'json' },
          { name: 'd', type: 'date' },
        ],
      })
      const insert = async (input: Record<string, unknown>) => {
        const { values, errors } = await prepareRecord(notes, input, undefined, { capabilities: fx.db.capabilities, isSuperuser: true })
        assert.deepEqual(errors, {})
        await fx.db.db.insertInto('notes').values(values).execute()
      }
      await insert({ id: n1, a: 'x', b: 'x', tags: ['a', 'b'], n: 1, j: { k: 1 }, d: '2024-01-15 10:20:30.000Z' })
      await insert({ id: n2, a: 'x', b: 'y', tags: [], n: 0, d: '' })
      await insert({ id: n3, a: 'Ann\\Bob', b: 'nn', tags: ['c'], n: 5, j: '', d: '2023-06-01 00:00:00.000Z' })
      await insert({ id: n4, a: '50% off', b: '', tags: ['a'], n: -1, j: 5 })
    })
    after(async () => fx?.close())

    async function rows(filter: string): Promise<string[]> {
      const scope = { ...fx.scope(), collection: fx.store.getOrThrow('notes') }
      const found = await fx.db.db.selectFrom('notes').select('id').where(compileFilter(filter, scope)).execute()
      return found.map((r) => String(r.id)).sort()
    }

    const check = (cases: [string, string[]][]) => {
      for (const [filter, expected] of cases) {
        test(filter, async () => assert.deepEqual(await rows(filter), expected.sort()))
      }
    }

    describe('field-to-field', () => {
      check([
        ['a = b', [n1]],
        ['a != b', [n2, n3, n4]],
        // A field on the right of `~` is a contains-match, as PocketBase wraps it in `%`.
        ['a ~ b', [n1, n3, n4]],
        ['a !~ b', [n2]],
        // @collection without `?` needs every row to match (PocketBase's multi-match).
        ['@collection.notes.b = b', []],
        ['@collection.notes.b ?= a', [n1, n2]],
        ['@collection.notes.n >= -1', [n1, n2, n3, n4]],
        ['@collection.notes.n > -1', []],
      ])
    })

    describe('trailing spaces are significant (MariaDB pads utf8mb4_bin)', () => {
      let pads: string[]
      before(async () => {
        const c = await fx.store.create({ name: 'pads', fields: [{ name: 'a', type: 'text' }, { name: 'b', type: 'text' }] })
        pads = [1, 2, 3].map((n) => id('pad', n))
        const ctx = { capabilities: fx.db.capabilities, isSuperuser: true }
        for (const [i, [a, b]] of [['x', 'x '], ['x', 'x'], ['x ', 'x']].entries()) {
          const { values } = await prepareRecord(c, { id: pads[i], a, b }, undefined, ctx)
          await fx.db.db.insertInto('pads').values(values).execute()
        }
      })
      const padRows = async (filter: string) => {
        const scope = { ...fx.scope(), collection: fx.store.getOrThrow('pads') }
        return (await fx.db.db.selectFrom('pads').select('id').where(compileFilter(filter, scope)).execute()).map((r) => String(r.id)).sort()
      }
      test('=, !=, < and > between fields and with literals', async () => {
        assert.deepEqual(await padRows('a = b'), [pads[1]])
        assert.deepEqual(await padRows('a != b'), [pads[0], pads[2]])
        assert.deepEqual(await padRows('a < b'), [pads[0]])
        assert.deepEqual(await padRows('a > b'), [pads[2]])
        assert.deepEqual(await padRows("a = 'x'"), [pads[0], pads[1]])
        assert.deepEqual(await padRows("b != 'x'"), [pads[0]])
        assert.deepEqual(await padRows("'x ' = a"), [pads[2]])
      })
    })

    describe('multi values', () => {
      check([
        // An empty multi value is PocketBase's NULL: only `=`/`!=` treat it as ''.
        ["tags ?< 'b'", [n1, n4]],
        ["tags ?<= 'a'", [n1, n4]],
        ["tags ?!~ 'a'", [n1, n3]],
        ["tags:each < 'b'", [n4]],
        ["tags:each ?= ''", [n2]],
        ["tags:each != 'a'", [n2, n3]],
        // A plain `~` on a multi field matches its stored JSON text.
        ["tags ~ 'a'", [n1, n4]],
        ['tags ~ \'"a"\'', [n1, n4]],
        ["tags !~ 'a'", [n2, n3]],
        ["tags ?~ 'a'", [n1, n4]],
        // Two multi values compare pair by pair (PocketBase's many-to-many match).
        ['tags:each = tags:each', [n2, n3, n4]],
        ['tags:each ?!= tags:each', [n1]],
        ['tags:each ?< tags:each', [n1]],
        ['tags:each < tags:each', []],
      ])
    })

    describe('NULL and empty values', () => {
      check([
        // Text and number fields read NULL as '' (PocketBase's COALESCE fallback).
        ['a = null', []],
        ["b = ''", [n4]],
        ['b = null', [n4]],
        ['b != null', [n1, n2, n3]],
        ['n = null', []],
        ["n = ''", []],
        ['n != null', [n1, n2, n3, n4]],
        ['d = null', [n2, n4]],
        ["d != ''", [n1, n3]],
        // A json field compares without that fallback: null is only a missing/null value, '' only "".
        ['j = null', [n2]],
        ['j != null', [n1, n3, n4]],
        ["j = ''", [n3]],
        ["j != ''", [n1, n2, n4]],
        ['j = 5', [n4]],
        ["j = '5'", [n4]],
        ['j.k = 1', [n1]],
        ['j.k = null', [n2, n3, n4]],
        ["j.k = ''", []],
        ['j.k != null', [n1]],
        ['j.k > 0', [n1]],
        ['j.k < 5', [n1]],
        ['j > 2', [n4]],
      ])
    })

    describe('strftime', () => {
      check([
        ["strftime('%Y', d) = '2024'", [n1]],
        ["strftime('%Y-%m-%d %H:%M:%S', d) = '2024-01-15 10:20:30'", [n1]],
        ["strftime('%F %T', d) = '2024-01-15 10:20:30'", [n1]],
        ["strftime('%f|%j|%w|%u|%s', d) = '30.000|015|1|1|1705314030'", [n1]],
        ["strftime('%m', d, 'start of year', '+1 months', '-1 day') = '01'", [n1, n3]],
        ["strftime('%Y-%m-%d', d, 'start of month') = '2023-06-01'", [n3]],
        ["strftime('%Y-%m-%d %H', d, ' Start Of Day ', 'utc', '+2 DAY') = '2024-01-17 00'", [n1]],
        ["strftime('%H:%M', d, '+3 hours', '-20 minutes', '+30 seconds') = '13:01'", [n1]],
        // No date: NULL, compared as '' (PocketBase's fallback).
        ["strftime('%Y', d) = ''", [n2, n4]],
        ["strftime('%Y', '2020-02-31') = '2020'", [n1, n2, n3, n4]],
        ["strftime('%d', '2020-02-31') = '02'", [n1, n2, n3, n4]],
        ["strftime('%Y', 'garbage') = ''", [n1, n2, n3, n4]],
        ["strftime('%Y') = strftime('%Y', @now)", [n1, n2, n3, n4]],
        ["strftime('%Y', a) != ''", []],
      ])
      test('formats and modifiers outside the common subset are 400 on every engine', () => {
        const scope = { ...fx.scope(), collection: fx.store.getOrThrow('notes') }
        for (const bad of ["strftime('%W', d) = ''", "strftime('%Y', d, 'localtime') = ''", "strftime(d) = ''", "strftime('%Y', 5) = ''", "nope(d) = ''", "strftime('%Y', d = ''"]) {
          assert.throws(() => compileFilter(bad, scope), (e: unknown) => e instanceof ApiError && e.code === 'invalid_filter', bad)
        }
      })
    })

    describe('geoPoint and geoDistance', () => {
      let places: Collection
      before(async () => {
        places = await fx.store.create({ name: 'places', fields: [{ name: 'label', type: 'text' }, { name: 'loc', type: 'geoPoint' }] })
        const ctx = { capabilities: fx.db.capabilities, isSuperuser: true }
        for (const [label, loc] of [
          ['berlin', { lon: 13.405, lat: 52.52 }],
          ['potsdam', { lon: 13.06, lat: 52.39 }],
          ['paris', '{"lon":2.35,"lat":48.86}'],
          ['nowhere', undefined],
        ] as const) {
          const { values, errors } = await prepareRecord(places, { label, ...(loc === undefined ? {} : { loc }) }, undefined, ctx)
          assert.deepEqual(errors, {})
          await fx.db.db.insertInto('places').values(values).execute()
        }
      })

      async function labels(filter: string): Promise<string[]> {
        const scope = { ...fx.scope(), collection: fx.store.getOrThrow('places') }
        const found = await fx.db.db.selectFrom('places').select('label').where(compileFilter(filter, scope)).execute()
        return found.map((r) => String(r.label)).sort()
      }

      test('values are {lon, lat}, {0, 0} when unset, and checked like PocketBase', async () => {
        const rowsOut = await fx.db.db.selectFrom('places').selectAll().orderBy('label').execute()
        assert.deepEqual(
          rowsOut.map((r) => rowToRecord(places, r).loc),
          [{ lon: 13.405, lat: 52.52 }, { lon: 0, lat: 0 }, { lon: 2.35, lat: 48.86 }, { lon: 13.06, lat: 52.39 }],
        )
        const ctx = { capabilities: fx.db.capabilities, isSuperuser: true }
        const required = await fx.store.create({ name: 'spots', fields: [{ name: 'at', type: 'geoPoint', required: true }] })
        assert.equal((await prepareRecord(required, {}, undefined, ctx)).errors.at?.code, 'validation_required')
        assert.equal((await prepareRecord(places, { loc: { lon: 0, lat: 91 } }, undefined, ctx)).errors.loc?.code, 'validation_invalid_latitude')
        assert.equal((await prepareRecord(places, { loc: { lon: -181, lat: 1 } }, undefined, ctx)).errors.loc?.code, 'validation_invalid_longitude')
      })

      const cases: [string, string[]][] = [
        ['geoDistance(loc.lon, loc.lat, 13.405, 52.52) < 30', ['berlin', 'potsdam']],
        ['geoDistance(loc.lon, loc.lat, 13.405, 52.52) < 1', ['berlin']],
        ['geoDistance(13.405, 52.52, loc.lon, loc.lat) > 800 && geoDistance(13.405, 52.52, loc.lon, loc.lat) < 900', ['paris']],
        ['geoDistance(loc.lon, loc.lat, loc.lon, loc.lat) < 0.01', ['berlin', 'nowhere', 'paris', 'potsdam']],
        ['loc.lat > 50', ['berlin', 'potsdam']],
        ['loc.lon = 0', ['nowhere']],
      ]
      for (const [filter, expected] of cases) test(filter, async () => assert.deepEqual(await labels(filter), expected))
    })

    describe('@rowid', () => {
      test('sorts in insertion order on every engine, whatever the ids', async () => {
        const seq = await fx.store.create({ name: 'seq', fields: [{ name: 'label', type: 'text' }] })
        const ctx = { capabilities: fx.db.capabilities, isSuperuser: true }
        // Ids in the opposite order to insertion, so an id or created sort cannot pass for @rowid.
        for (const [i, label] of ['first', 'second', 'third'].entries()) {
          const { values } = await prepareRecord(seq, { id: id('zzz', 9 - i), label }, undefined, ctx)
          await fx.db.db.insertInto('seq').values(values).execute()
        }
        await fx.db.db.updateTable('seq').set({ label: 'first!' }).where('label', '=', 'first').execute()
        const scope = { ...fx.scope(), collection: fx.store.getOrThrow('seq') }
        const order = async (s: string) =>
          (await compileSort(s, scope).reduce((qb, o) => qb.orderBy(o), fx.db.db.selectFrom('seq').select('label')).execute()).map((r) => String(r.label))
        assert.deepEqual(await order('@rowid'), ['first!', 'second', 'third'])
        assert.deepEqual(await order('-@rowid'), ['third', 'second', 'first!'])
        // The column stays out of records.
        const row = await fx.db.db.selectFrom('seq').selectAll().executeTakeFirstOrThrow()
        assert.deepEqual(Object.keys(rowToRecord(seq, row)).sort(), ['collectionId', 'collectionName', 'id', 'label'])
      })

      test('migration 0003 gives tables made before it their @rowid column', async () => {
        if (!fx.db.dialect.rowidColumn) return // SQLite: the implicit rowid
        const rowid = rowidMigration(fx.db.dialect)
        await fx.db.db.schema.alterTable('notes').dropColumn(ROWID_COLUMN).execute()
        await rowid.up(fx.db.db)
        await rowid.up(fx.db.db) // and again: nothing to do
        const scope = { ...fx.scope(), collection: fx.store.getOrThrow('notes') }
        assert.equal((await compileSort('@rowid', scope).reduce((qb, o) => qb.orderBy(o), fx.db.db.selectFrom('notes').select('id')).execute()).length, 4)
      })

      test('two rows never share a @rowid: it is unique, so indexed (a list without a sort stops after a page); migration 0005 indexes older tables', async () => {
        if (!fx.db.dialect.rowidColumn) return // SQLite: the implicit rowid is the table's key
        const clash = async () => {
          const [a, b] = await fx.db.db.selectFrom('notes').select(['id', ROWID_COLUMN]).orderBy(ROWID_COLUMN).limit(2).execute()
          return fx.db.db.updateTable('notes').set({ [ROWID_COLUMN]: a![ROWID_COLUMN] }).where('id', '=', b!.id).execute()
        }
        await assert.rejects(clash(), /unique|duplicate/i)
        if (!fx.db.dialect.indexRowid) return // the column was always unique here
        // A table as made before the index: the same column without it.
        await fx.db.db.schema.alterTable('notes').dropColumn(ROWID_COLUMN).execute()
        await fx.db.db.schema.alterTable('notes').addColumn(ROWID_COLUMN, 'bigint', (c) => c.generatedByDefaultAsIdentity()).execute()
        const migration = rowidIndexMigration(fx.db.dialect)
        await migration.up(fx.db.db)
        await migration.up(fx.db.db) // and again: nothing to do
        await assert.rejects(clash(), /unique|duplicate/i)
      })

      test('a view over SELECT * gets no _rowid_ field, and cannot sort by @rowid', async () => {
        const view = await fx.store.create({ name: 'seq_view', type: 'view', viewQuery: 'select * from notes' })
        assert.deepEqual(view.fields.map((f) => f.name).sort(), ['a', 'b', 'd', 'id', 'j', 'n', 'tags'])
        assert.throws(() => compileSort('@rowid', { ...fx.scope(), collection: view }), (e: unknown) => e instanceof ApiError && e.code === 'invalid_filter')
      })
    })

    test('a view\'s json-typed columns compare as their text (computed values are not JSON)', async () => {
      const view = await fx.store.create({ name: 'notes_view', type: 'view', viewQuery: 'select id, upper(a) as u, j from notes' })
      assert.deepEqual(Object.fromEntries(view.fields.map((f) => [f.name, f.type])), { id: 'text', u: 'json', j: 'json' })
      const scope = { ...fx.scope(), collection: view }
      const ids = async (filter: string) =>
        (await fx.db.db.selectFrom('notes_view').select('id').where(compileFilter(filter, scope)).execute()).map((r) => String(r.id)).sort()
      assert.deepEqual(await ids("u = 'X'"), [n1, n2])
      assert.deepEqual(await ids("u ~ 'OFF'"), [n4])
      assert.deepEqual(await ids('j.k = 1'), [n1])
      assert.deepEqual(await ids('j = null'), [n2])
    })

    describe('LIKE escapes and backslashes', () => {
      check([
        ["a ~ '0\\% o'", [n4]],
        ["a ~ '50%'", [n4]],
        ["a ~ '5_\\%%'", [n4]],
        ["a ~ '%\\%'", []],
        ["a ~ 'n\\b'", [n3]],
        ["a = 'Ann\\Bob'", [n3]],
        ["a ~ 'ann\\\\bob'", [n3]],
        ["b = 'n\\'n'", []],
      ])
    })
  })
}

/** The same through the HTTP API and PocketBase's own SDK: geoPoint values, geoDistance, @rowid. */
for (const { engine, skip } of await engines()) {
  describe(`filter semantics over the SDK: ${engine}`, { skip }, () => {
    let testDb: TestDb
    let dir: string
    let app: Plinth
    let su: PocketBase
    before(async () => {
      testDb = await createTestDb(engine)
      dir = mkdtempSync(path.join(tmpdir(), 'plinth-filter-'))
      app = await createPlinth({
        config: { cwd: dir, env: {}, overrides: { db: testDb.url, dir, http: '127.0.0.1:0', logLevel: 'silent', rateLimits: NO_RATE_LIMITS } },
        logger: createLogger({ logLevel: 'silent' }),
      })
      const url = await app.start()
      const superusers = app.collections.getOrThrow('_superusers')
      assert.ok(isAuthCollection(superusers))
      await createSuperuser(app.records, 'root@example.com', 'root-password-1')
      su = new PocketBase(url)
      su.autoCancellation(false)
      await su.collection('_superusers').authWithPassword('root@example.com', 'root-password-1')
    })
    after(async () => {
      await app?.stop()
      await testDb?.drop()
      if (dir) rmSync(dir, { recursive: true, force: true })
    })

    test('geoPoint records, geoDistance and strftime filters, @rowid sort', async () => {
      const c = await su.collections.create({ name: 'cities', type: 'base', fields: [{ name: 'name', type: 'text' }, { name: 'at', type: 'geoPoint' }, { name: 'founded', type: 'date' }] })
      assert.equal(c.fields.find((f: { name: string }) => f.name === 'at')?.type, 'geoPoint')
      await su.collection('cities').create({ id: id('zc', 3), name: 'Berlin', at: { lon: 13.405, lat: 52.52 }, founded: '1237-10-28 00:00:00.000Z' })
      await su.collection('cities').create({ id: id('zc', 2), name: 'Paris', at: { lon: 2.35, lat: 48.86 } })
      const empty = await su.collection('cities').create({ id: id('zc', 1), name: 'Nowhere' })
      assert.deepEqual(empty.at, { lon: 0, lat: 0 })
      const bad = await su.collection('cities').create({ name: 'Bad', at: { lon: 0, lat: 100 } }).catch((e: { status: number; response: { data: Record<string, { code: string }> } }) => e)
      assert.equal((bad as { status: number }).status, 400)
      assert.equal((bad as { response: { data: Record<string, { code: string }> } }).response.data.at?.code, 'validation_invalid_latitude')

      const near = await su.collection('cities').getFullList({ filter: su.filter('geoDistance(at.lon, at.lat, {:lon}, {:lat}) < 50', { lon: 13.4, lat: 52.5 }) })
      assert.deepEqual(near.map((r) => r.name), ['Berlin'])
      const old = await su.collection('cities').getFullList({ filter: "strftime('%Y-%m', founded) = '1237-10' || strftime('%Y', founded) = ''" })
      assert.deepEqual(old.map((r) => r.name).sort(), ['Berlin', 'Nowhere', 'Paris'])
      const berlin = await su.collection('cities').getFullList({ filter: "strftime('%j', founded, '+4 days') = '305'" })
      assert.deepEqual(berlin.map((r) => r.name), ['Berlin'])
      const order = await su.collection('cities').getFullList({ sort: '-@rowid' })
      assert.deepEqual(order.map((r) => r.name), ['Nowhere', 'Paris', 'Berlin'])
    })
  })
}
