/** Auth builds on records, never the reverse: no file under src/records imports from src/auth. */
import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('../../src/', import.meta.url))

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? tsFiles(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : []))
}

test('src/records imports nothing from src/auth', () => {
  const offenders: string[] = []
  for (const file of tsFiles(path.join(root, 'records'))) {
    for (const m of readFileSync(file, 'utf8').matchAll(/\bfrom\s+'([^']+)'|\bimport\s*\(?\s*'([^']+)'/g)) {
      const spec = m[1] ?? m[2]!
      if (!spec.startsWith('.')) continue
      const target = path.relative(root, path.resolve(path.dirname(file), spec))
      if (target === 'auth' || target.startsWith(`auth${path.sep}`)) offenders.push(`${path.relative(root, file)} -> ${spec}`)
    }
  }
  assert.deepEqual(offenders, [])
})
