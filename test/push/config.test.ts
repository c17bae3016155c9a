/** The `push` setting: parsing, paths made absolute, secrets masked, and start-up failures as one line and exit 2. */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { test } from 'node:test'
import { loadConfig, maskSecrets } from '../../src/config/load.ts'
import { ConfigError } from '../../src/config/errors.ts'
import { APNS_PRODUCTION, APNS_SANDBOX, parsePushUrl } from '../../src/config/push-url.ts'
import { runCli } from '../helpers/cli.ts'

test('engines parse from a comma list', () => {
  assert.deepEqual(parsePushUrl('log://'), { engine: 'engines', engines: [{ engine: 'log' }] })
  const t = parsePushUrl('log://, apns://KEY1:TEAM1@?key=/k.p8&topic=com.a , fcm://?credentials=/sa.json&project=p2,rongcloud://ak:s%40c@')
  assert.deepEqual(t.engines, [
    { engine: 'log' },
    { engine: 'apns', keyId: 'KEY1', teamId: 'TEAM1', keyFile: '/k.p8', topic: 'com.a', endpoint: APNS_PRODUCTION },
    { engine: 'fcm', credentialsFile: '/sa.json', project: 'p2', endpoint: 'https://fcm.googleapis.com' },
    { engine: 'rongcloud', appKey: 'ak', appSecret: 's@c', endpoint: 'https://api.rong-api.com' },
  ])
  assert.equal((parsePushUrl('apns://K:T@?key=/k&topic=t&sandbox=true').engines[0] as { endpoint: string }).endpoint, APNS_SANDBOX)
})

test('mistakes are one line naming the key', () => {
  const cases: [string, RegExp][] = [
    ['', /push: empty/],
    ['gcm://x', /unsupported scheme "gcm"/],
    ['apns://K:T@?topic=t', /apns:\/\/ needs key=/],
    ['apns://K@?key=/k&topic=t', /malformed apns:\/\/ URL|needs KEY_ID:TEAM_ID/],
    ['apns://K:T@?key=/k&topic=t&endpoint=http://x', /endpoint must be https:\/\//],
    ['apns://K:T@?key=/k&topic=t&colour=red', /unknown parameter "colour"/],
    ['fcm://', /fcm:\/\/ needs credentials=/],
    ['rongcloud://?endpoint=https://x', /needs APP_KEY:APP_SECRET@/],
    ['log://,log://', /log:\/\/ is listed twice/],
  ]
  for (const [value, re] of cases) {
    assert.throws(() => parsePushUrl(value), (err: unknown) => err instanceof ConfigError && re.test(err.message) && !err.message.includes('\n'), value)
  }
})

test('PLINTH_PUSH: file paths resolved against the working directory; the secret masked in `plinth config`', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'plinth-push-config-'))
  try {
    const config = loadConfig({ cwd: dir, env: { PLINTH_PUSH: 'apns://K:T@?key=keys/a.p8&topic=t,rongcloud://ak:secret1@' } })
    const apns = parsePushUrl(config.push).engines[0] as { keyFile: string }
    assert.equal(apns.keyFile, path.join(dir, 'keys/a.p8'))
    assert.ok(!JSON.stringify(maskSecrets(config)).includes('secret1'))
    assert.equal(loadConfig({ cwd: dir, env: {} }).push, 'log://')
    // The whole value from a file (a secret store's mount): PLINTH_PUSH_FILE.
    writeFileSync(path.join(dir, 'push.url'), 'rongcloud://ak:from-file@\n')
    assert.equal(loadConfig({ cwd: dir, env: { PLINTH_PUSH_FILE: 'push.url' } }).push, 'rongcloud://ak:from-file@')
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('start-up: an unreadable key file or a bad URL exits 2 with one line', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'plinth-push-cli-'))
  try {
    const missing = await runCli(['migrate'], { PLINTH_DIR: dir, PLINTH_PUSH: 'apns://K:T@?key=missing.p8&topic=t' }, dir)
    assert.equal(missing.code, 2)
    assert.equal(missing.stderr.trim().split('\n').at(-1), `plinth: push: apns: cannot read the key file ${path.join(dir, 'missing.p8')} (ENOENT)`)
    const bad = await runCli(['migrate'], { PLINTH_DIR: dir, PLINTH_PUSH: 'log://,gcm://' }, dir)
    assert.equal(bad.code, 2)
    assert.match(bad.stderr.trim(), /^plinth: config: push: unsupported scheme "gcm"[^\n]*$/)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
