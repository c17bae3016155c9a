import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { normalizePhone } from '../../src/auth/phone.ts'

describe('phone numbers', () => {
  const none = { defaultRegion: '', countries: [] }
  const cn = { defaultRegion: 'CN', countries: [] }

  test('every spelling of one number is one E.164 string', async () => {
    for (const input of ['+8613800138000', '+86 138 0013 8000', '+86-138-0013-8000', '008613800138000', ' +86 (138) 0013.8000 ']) {
      assert.deepEqual(await normalizePhone(input, none), { ok: true, e164: '+8613800138000', region: 'CN' }, input)
    }
    assert.deepEqual(await normalizePhone('13800138000', cn), { ok: true, e164: '+8613800138000', region: 'CN' })
    assert.deepEqual(await normalizePhone('(415) 555-2671', { defaultRegion: 'US', countries: [] }), { ok: true, e164: '+14155552671', region: 'US' })
    assert.deepEqual(await normalizePhone('+44 7400 123456', cn), { ok: true, e164: '+447400123456', region: 'GB' }, 'a + number ignores the default region')
  })

  test('without a default region a national number is refused', async () => {
    const r = await normalizePhone('13800138000', none)
    assert.equal(r.ok, false)
    assert.equal(!r.ok && r.error.code, 'validation_invalid_phone')
  })

  test('invalid, fixed-line, overlong, non-phone and missing inputs are field errors', async () => {
    for (const input of ['+86 138', '+1 555', '+86 10 6552 9988', 'abc', '+86 138 0013 8000 ext 12', '1'.repeat(41), '+8613800138000\n', '<script>']) {
      const r = await normalizePhone(input, cn)
      assert.equal(r.ok, false, input)
      assert.equal(!r.ok && r.error.code, 'validation_invalid_phone', input)
    }
    for (const input of [undefined, null, 42, '', '  ', ['+8613800138000']]) {
      const r = await normalizePhone(input, cn)
      assert.equal(!r.ok && r.error.code, 'validation_required', String(input))
    }
  })

  test('the country allow-list', async () => {
    const rules = { defaultRegion: 'CN', countries: ['CN', 'HK'] }
    assert.equal((await normalizePhone('+85261234567', rules)).ok, true)
    const us = await normalizePhone('+14155552671', rules)
    assert.equal(!us.ok && us.error.message, 'Codes cannot be sent to numbers of this country.')
  })
})
