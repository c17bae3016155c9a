/**
 * Rules decided in memory (src/records/rule-memory.ts) against the same rules through SQL, on
 * every engine: for every rule, record and caller below, an answer from memory must be SQL's
 * answer, and the rules meant to be decided in memory must be (else the test proves nothing).
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { compileRule } from '../../src/records/compiled.ts'
import type { AuthInfo, RecordJson, RequestInfo } from '../../src/records/record.ts'
import { systemRequest } from '../../src/records/record.ts'
import { visibleTo } from '../../src/realtime/record-access.ts'
import { ruleInMemory } from '../../src/records/rule-memory.ts'
import { parseSubscription } from '../../src/realtime/subscription.ts'
import { startApp, type TestApp } from '../helpers/app.ts'
import { engines } from '../helpers/engines.ts'

/** Rules the in-memory evaluator must decide (true or false) for every record and caller. */
const DECIDED = [
  'title = "a"',
  'title != "a"',
  'title = "A"',
  'title = 5',
  'title = null',
  'title = true',
  'owner = @request.auth.id',
  'owner != @request.auth.id',
  '@request.auth.id = owner',
  'owner = @request.auth.id || title = "pub"',
  'owner = @request.auth.id && flag = true',
  'flag = true',
  'flag = "1"',
  'flag != false',
  'flag = 0',
  'count = 5',
  'count = "5"',
  'count != 5.0',
  'count = @request.headers.x_n',
  'title = @request.headers.x_user',
  'title = @request.headers.missing',
  'title = @request.query.q',
  'tag = "x"',
  'when = ""',
  'owner = ""',
  'owner != ""',
  '@request.auth.id != ""',
  '@request.auth.id = ""',
  '@request.auth.name = title',
  'title = @request.auth.name',
  '@request.auth.collectionName = "users"',
  '@request.auth.verified = true',
  'flag = @request.auth.verified',
  'id = @request.auth.id',
  'id != ""',
  '@request.method = "GET"',
  '@request.context = "realtime"',
  'id = "nope" || (owner = @request.auth.id && count = 5)',
  'title = owner',
  'count = count',
]

/** Rules left to SQL (at least for some callers); checked only where memory still answers. */
const UNDECIDED = ['count = title', 'count = true', 'title ~ "a"', 'tags ?= "x"', 'owner.name = "alice"', 'data = 1', 'title:lower = "a"', 'count > 1', '@request.body.x = 1']

for (const { engine, skip } of await engines()) {
  describe(`rules in memory agree with SQL: ${engine}`, { skip }, () => {
    let t: TestApp
    const records: RecordJson[] = []
    const callers: RequestInfo[] = []

    before(async () => {
      t = await startApp(engine)
      const sys = systemRequest()
      await t.must('POST', '/api/collections', {
        name: 'mem',
        type: 'base',
        fields: [
          { name: 'title', type: 'text' },
          { name: 'owner', type: 'relation', collectionId: '_pb_users_auth_', maxSelect: 1 },
          { name: 'count', type: 'number' },
          { name: 'flag', type: 'bool' },
          { name: 'tag', type: 'select', values: ['x', 'y'], maxSelect: 1 },
          { name: 'tags', type: 'select', values: ['x', 'y'], maxSelect: 2 },
          { name: 'when', type: 'date' },
          { name: 'data', type: 'json' },
        ],
      })
      const users = t.app.collections.getOrThrow('users')
      const user = async (name: string, verified: boolean): Promise<AuthInfo> => {
        const r = await t.app.records.create('users', { email: `${name}@example.com`, password: 'password-123', passwordConfirm: 'password-123', name, verified }, sys)
        return Object.freeze({ collection: users, record: Object.freeze(r), isSuperuser: false })
      }
      const alice = await user('alice', true)
      const bob = await user('bob', false)
      const rows: Record<string, unknown>[] = [
        { title: 'a', owner: alice.record.id, count: 5, flag: true, tag: 'x', tags: ['x'] },
        { title: 'pub', count: 0, flag: false, when: '2024-01-01 00:00:00.000Z', data: { a: 1 } },
        { title: 'A', owner: bob.record.id, count: 5.5, tag: 'y' },
        { title: 'alice', owner: alice.record.id, count: 1, flag: true, data: 1 },
        { title: '', count: 0 },
        { title: '5', count: 5, owner: bob.record.id },
        { title: 'true', flag: true },
      ]
      for (const row of rows) records.push(await t.app.records.create('mem', row, sys))
      for (const auth of [null, alice, bob]) {
        callers.push({ auth, method: 'GET', headers: { x_n: '5', x_user: 'a' }, query: { q: 'pub' }, body: {}, context: 'realtime' })
      }
    })
    after(async () => {
      await t?.close()
    })

    test('every answer from memory is the answer SQL gives; the simple rules are all decided', async () => {
      const c = t.app.collections.getOrThrow('mem')
      const deps = { registry: t.app.collections, reader: () => t.app.sql.reader(), inMemory: false }
      const sub = parseSubscription('mem/*')
      let decided = 0
      for (const rule of [...DECIDED, ...UNDECIDED]) {
        const compiled = compileRule(rule)
        for (const record of records) {
          for (const request of callers) {
            const memory = ruleInMemory(compiled, c, record, request)
            const who = request.auth ? String(request.auth.record.name) : 'guest'
            if (DECIDED.includes(rule)) assert.notEqual(memory, undefined, `${rule} for ${who} on ${JSON.stringify(record)} should be decided in memory`)
            if (memory === undefined) continue
            decided++
            const [viaSql] = await visibleTo(deps, c, record, [{ rule, request, sub }])
            assert.equal(memory, viaSql, `${rule} for ${who} on ${JSON.stringify(record)}: memory ${memory}, SQL ${viaSql}`)
          }
        }
      }
      assert.ok(decided >= DECIDED.length * records.length * callers.length)
      for (const rule of ['title ~ "a"', 'tags ?= "x"', 'owner.name = "alice"', 'count > 1']) {
        assert.equal(ruleInMemory(compileRule(rule), c, records[0]!, callers[1]!), undefined, `${rule} goes to SQL`)
      }
    })
  })
}
