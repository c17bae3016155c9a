/** Every text the console passes to t('...') has its Simplified Chinese (ui/i18n-zh.ts), with the same placeholders. */
import assert from 'node:assert/strict'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { ZH } from '../../ui/i18n-zh.ts'

const UI = path.resolve(import.meta.dirname, '..', '..', 'ui')

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = path.join(dir, name)
    return statSync(p).isDirectory() ? walk(p) : /\.tsx?$/.test(name) ? [p] : []
  })
}

test('every console text has a Simplified Chinese translation with the same placeholders', () => {
  const texts = new Set<string>()
  for (const file of walk(UI)) {
    for (const m of readFileSync(file, 'utf8').matchAll(/\bt\('((?:[^'\\]|\\.)*)'/g)) texts.add(m[1]!.replace(/\\'/g, "'"))
  }
  assert.ok(texts.size > 150, `found only ${texts.size} texts: is the pattern still right?`)
  const missing = [...texts].filter((s) => !(s in ZH))
  assert.deepEqual(missing, [], 'texts without a translation')
  const placeholders = (s: string) => [...s.matchAll(/\{\w+\}/g)].map((m) => m[0]).sort()
  for (const s of texts) assert.deepEqual(placeholders(ZH[s]!), placeholders(s), `placeholders of "${s}"`)
})
