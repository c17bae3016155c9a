/** `plinth keys rotate`: each run makes a new current key in the data folder's database. */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { test } from 'node:test'
import { runCli } from '../helpers/cli.ts'

test('plinth keys rotate prints a new kid each time; bad arguments get the usage', async () => {
  const cwd = mkdtempSync(path.join(tmpdir(), 'plinth-keys-'))
  try {
    const first = await runCli(['keys', 'rotate'], {}, cwd)
    assert.equal(first.code, 0, first.stderr)
    const second = await runCli(['keys', 'rotate'], {}, cwd)
    assert.equal(second.code, 0, second.stderr)
    const kid = (s: string) => /new key: (\S+)/.exec(s)?.[1]
    assert.ok(kid(first.stdout) && kid(second.stdout))
    assert.notEqual(kid(first.stdout), kid(second.stdout))
    const bad = await runCli(['keys', 'spin'], {}, cwd)
    assert.equal(bad.code, 2)
    assert.match(bad.stderr, /Usage: plinth keys rotate/)
  } finally {
    rmSync(cwd, { recursive: true, force: true })
  }
})
