/**
 * Index definitions are parsed, never passed through: accepted forms, rejected forms, and a
 * format -> parse round trip for generated definitions. Plus the id/pattern generators.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import { formatIndex, parseIndex, type IndexDefinition } from '../../src/records/collections/index-definition.ts'
import { crc32Checksum, generateRecordId, randomFromPattern } from '../../src/records/fields/random.ts'

describe('index definitions', () => {
  test('PocketBase\'s forms parse', () => {
    assert.deepEqual(parseIndex("CREATE UNIQUE INDEX `idx_email_x` ON `users` (`email`) WHERE `email` != ''"), {
      unique: true, name: 'idx_email_x', table: 'users', columns: [{ name: 'email', collate: '', sort: '' }], where: [{ column: 'email', op: '!=', value: '' }],
    })
    const d = parseIndex('create index if not exists "i" on [t] (a COLLATE NOCASE DESC, b asc) where a is not null and b >= -2.5;')
    assert.deepEqual(d?.columns, [{ name: 'a', collate: 'NOCASE', sort: 'DESC' }, { name: 'b', collate: '', sort: 'ASC' }])
    assert.deepEqual(d?.where, [{ column: 'a', op: 'is not null' }, { column: 'b', op: '>=', value: -2.5 }])
    assert.equal(parseIndex('CREATE INDEX i ON main.t (a)')?.table, 't')
    assert.equal(parseIndex("CREATE INDEX i ON t (a) WHERE a <> 'it''s'")?.where[0]?.value, "it's")
  })

  test('anything else is rejected', () => {
    for (const bad of [
      'DROP TABLE users',
      'CREATE INDEX i ON t (a); DROP TABLE t',
      'CREATE INDEX i ON t (lower(a))',
      'CREATE INDEX i ON t (a) WHERE a = 1 OR 1 = 1',
      "CREATE INDEX i ON t (a) WHERE a = '\\'",
      'CREATE INDEX `a b` ON t (a)',
      'CREATE INDEX i ON t ()',
      'CREATE INDEX i ON t (a',
      'CREATE TABLE i (a)',
      '',
    ]) assert.equal(parseIndex(bad), undefined, bad)
  })

  test('format and parse are inverse for any accepted definition', () => {
    const ident = fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,20}$/)
    const def = fc.record({
      unique: fc.boolean(),
      name: ident,
      table: ident,
      columns: fc.array(fc.record({ name: ident, collate: fc.constantFrom('', 'NOCASE'), sort: fc.constantFrom('' as const, 'ASC' as const, 'DESC' as const) }), { minLength: 1, maxLength: 4 }),
      where: fc.array(
        fc.oneof(
          fc.record({ column: ident, op: fc.constantFrom('=' as const, '!=' as const, '<' as const, '>=' as const), value: fc.oneof(fc.integer(), fc.string().filter((s) => !s.includes('\\'))) }),
          fc.record({ column: ident, op: fc.constantFrom('is null' as const, 'is not null' as const) }),
        ),
        { maxLength: 3 },
      ),
    })
    fc.assert(fc.property(def, (d: IndexDefinition) => {
      assert.deepEqual(parseIndex(formatIndex(d)), JSON.parse(JSON.stringify(d)))
    }))
  })
})

describe('generated values', () => {
  test('record ids are 15 characters of [a-z0-9] and do not repeat', () => {
    const ids = new Set(Array.from({ length: 2000 }, generateRecordId))
    assert.equal(ids.size, 2000)
    for (const id of ids) assert.match(id, /^[a-z0-9]{15}$/)
  })

  test('patterns generate matching values', () => {
    for (const p of ['[a-z0-9]{15}', '[a-zA-Z0-9]{50}', '^ab[0-9]{2,4}x$', 'k\\d{3}']) {
      const re = new RegExp(p.startsWith('^') ? p : `^${p}$`)
      for (let i = 0; i < 50; i++) assert.match(randomFromPattern(p), re)
    }
    assert.throws(() => randomFromPattern('(a|b)'))
  })

  test('crc32 matches the IEEE checksum PocketBase uses for default ids', () => {
    assert.equal(crc32Checksum(''), '0')
    assert.equal(crc32Checksum('123456789'), '3421780262') // the standard check value 0xCBF43926
  })
})
