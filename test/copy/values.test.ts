/** The engine-neutral values and the table checksum that `db copy` and backups verify with. */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { bindValue, canon, kindOfType, TableChecksum } from '../../src/copy/values.ts'

const sum = (kinds: Parameters<typeof canon>[0][], rows: unknown[][]) => {
  const c = new TableChecksum(kinds)
  for (const r of rows) c.add(r.map((v, i) => canon(kinds[i]!, v)))
  return c.hex()
}

describe('copy values', () => {
  test('each driver shape becomes one neutral value', () => {
    for (const v of [true, 1, 1n, '1', 't']) assert.equal(canon('bool', v), true)
    for (const v of [false, 0, '0', 'f']) assert.equal(canon('bool', v), false)
    assert.equal(canon('int', '1796061165100'), 1796061165100)
    assert.equal(canon('float', 2.5), 2.5)
    assert.equal(canon('json', { a: 1 }), '{"a":1}')
    assert.equal(canon('json', '{"a": 1}'), '{"a": 1}')
    assert.equal(canon('text', null), null)
  })

  test('booleans bind as the target takes them', () => {
    assert.equal(bindValue('bool', true, true), true)
    assert.equal(bindValue('bool', true, false), 1)
    assert.equal(bindValue('bool', false, false), 0)
  })

  test('type names from every engine', () => {
    assert.deepEqual(['boolean', 'bool', 'tinyint', 'bigint', 'int8', 'INTEGER', 'double precision', 'float8', 'numeric', 'jsonb', 'json', 'mediumtext', 'varchar'].map(kindOfType), [
      'bool', 'bool', 'bool', 'int', 'int', 'int', 'float', 'float', 'float', 'json', 'json', 'text', 'text',
    ])
  })

  test('the checksum ignores row order, JSON key order and whitespace, and sees any changed value', () => {
    const kinds = ['text', 'bool', 'json', 'float'] as const
    const a = [['x', 1, '{"b":[1,2],"a":{"d":1,"c":2}}', 1.5], ['y', 0, null, 2]]
    const b = [['y', false, null, 2], ['x', true, { a: { c: 2, d: 1 }, b: [1, 2] }, 1.5]]
    assert.equal(sum([...kinds], a), sum([...kinds], b))
    assert.notEqual(sum([...kinds], a), sum([...kinds], [['x', 1, '{"b":[2,1],"a":{"d":1,"c":2}}', 1.5], ['y', 0, null, 2]]))
    assert.notEqual(sum([...kinds], a), sum([...kinds], [['x', 1, '{"b":[1,2],"a":{"d":1,"c":2}}', 1.5], ['y', 0, null, 2.0001]]))
    assert.notEqual(sum([...kinds], a), sum([...kinds], [['x', 1, '{"b":[1,2],"a":{"d":1,"c":2}}', 1.5]]))
    // A null and an empty text differ.
    assert.notEqual(sum(['text'], [[null]]), sum(['text'], [['']]))
  })
})
