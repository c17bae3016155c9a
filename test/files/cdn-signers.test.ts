/**
 * The CDN URL signers against the providers' worked examples (fixed vectors), and where a doc
 * gives no complete example (CloudFront's signature), against an independent computation with
 * the openssl command line.
 */
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, describe, test } from 'node:test'
import { loadConfig } from '../../src/config/load.ts'
import { defaults } from '../../src/config/schema.ts'
import { signAliyunTypeA } from '../../src/files/cdn/aliyun-a.ts'
import { cdnUrl } from '../../src/files/cdn/cdn.ts'
import { cannedPolicy, signCloudFrontCanned } from '../../src/files/cdn/cloudfront.ts'
import { secureLinkMd5, signNginxSecureLink } from '../../src/files/cdn/nginx.ts'

const dir = mkdtempSync(path.join(tmpdir(), 'plinth-cdn-'))
after(() => rmSync(dir, { recursive: true, force: true }))
const pemFile = path.join(dir, 'cf.pem')
execFileSync('openssl', ['genrsa', '-out', pemFile, '2048'], { stdio: 'ignore' })

/** CloudFront's signature of `policy`, computed by openssl (sha1 + RSA), base64 with `+=/` -> `-_~`. */
function opensslSignature(policy: string): string {
  const policyFile = path.join(dir, 'policy.json')
  writeFileSync(policyFile, policy)
  const sig = execFileSync('openssl', ['dgst', '-sha1', '-sign', pemFile, policyFile])
  return sig.toString('base64').replace(/\+/g, '-').replace(/=/g, '_').replace(/\//g, '~')
}

describe('Alibaba Cloud CDN type A', () => {
  test("the doc's example: /video/standard/1K.html, key aliyuncdnexp1234, 1444435200", () => {
    assert.equal(
      signAliyunTypeA({ url: 'http://cdn.example.com/video/standard/1K.html', privateKey: 'aliyuncdnexp1234', timestamp: 1444435200 }),
      'http://cdn.example.com/video/standard/1K.html?auth_key=1444435200-0-0-80cd3862d699b7118eed99103f2a3a4f',
    )
  })
  test("the current doc's example: /video/standard/test.mp4", () => {
    assert.equal(
      signAliyunTypeA({ url: 'http://domain.example.com/video/standard/test.mp4', privateKey: 'aliyuncdnexp1234', timestamp: 1444435200, rand: '0', uid: '0' }),
      'http://domain.example.com/video/standard/test.mp4?auth_key=1444435200-0-0-23bf85053008f5c0e791667a313e28ce',
    )
  })
  test('a query the URL has is kept; rand with "-" is refused', () => {
    const signed = new URL(signAliyunTypeA({ url: 'https://cdn.example.com/a/b.png?x=1', privateKey: 'k', timestamp: 1700000000, rand: 'abc' }))
    assert.equal(signed.searchParams.get('x'), '1')
    assert.match(signed.searchParams.get('auth_key')!, /^1700000000-abc-0-[0-9a-f]{32}$/)
    assert.throws(() => signAliyunTypeA({ url: 'https://cdn.example.com/a', privateKey: 'k', timestamp: 1, rand: 'a-b' }))
  })
})

describe('CloudFront canned policy', () => {
  test("the policy is the doc's JSON without spaces", () => {
    assert.equal(
      cannedPolicy('https://d111111abcdef8.cloudfront.net/image.jpg?color=red&size=medium', 1767290400),
      '{"Statement":[{"Resource":"https://d111111abcdef8.cloudfront.net/image.jpg?color=red&size=medium","Condition":{"DateLessThan":{"AWS:EpochTime":1767290400}}}]}',
    )
  })
  test("the doc's example URL, with the signature openssl computes for the same policy", () => {
    const url = 'https://d111111abcdef8.cloudfront.net/image.jpg?color=red&size=medium'
    const signed = signCloudFrontCanned({ url, keyPairId: 'K2JCJMDEHXQW5F', privateKey: execFileSync('cat', [pemFile]).toString(), expires: 1767290400 })
    const signature = opensslSignature(cannedPolicy(url, 1767290400))
    assert.equal(signed, `${url}&Expires=1767290400&Signature=${signature}&Key-Pair-Id=K2JCJMDEHXQW5F`)
    assert.doesNotMatch(signature, /[+=/]/)
    // And openssl verifies it with the public key.
    const pub = path.join(dir, 'cf.pub')
    execFileSync('openssl', ['rsa', '-in', pemFile, '-pubout', '-out', pub], { stdio: 'ignore' })
    const sigFile = path.join(dir, 'sig.bin')
    writeFileSync(sigFile, Buffer.from(signature.replace(/-/g, '+').replace(/_/g, '=').replace(/~/g, '/'), 'base64'))
    assert.match(execFileSync('openssl', ['dgst', '-sha1', '-verify', pub, '-signature', sigFile, path.join(dir, 'policy.json')]).toString(), /Verified OK/)
  })
  test('a URL without a query gets "?"', () => {
    const signed = signCloudFrontCanned({ url: 'https://d1.cloudfront.net/a.jpg', keyPairId: 'K1', privateKey: execFileSync('cat', [pemFile]).toString(), expires: 1700000000 })
    assert.match(signed, /^https:\/\/d1\.cloudfront\.net\/a\.jpg\?Expires=1700000000&Signature=[A-Za-z0-9~_-]+&Key-Pair-Id=K1$/)
  })
})

describe('nginx secure_link_md5', () => {
  test("the nginx docs' example: $secure_link_expires$uri$remote_addr secret -> _e4Nc3iduzkWRm01TBBNYw", () => {
    assert.equal(secureLinkMd5('$secure_link_expires$uri$remote_addr secret', { secure_link_expires: '2147483647', uri: '/s/link', remote_addr: '127.0.0.1' }), '_e4Nc3iduzkWRm01TBBNYw')
    assert.equal(
      signNginxSecureLink({ url: 'http://example.com/s/link', expression: '$secure_link_expires$uri$remote_addr secret', secret: '', expires: 2147483647, vars: { remote_addr: '127.0.0.1' } }),
      'http://example.com/s/link?md5=_e4Nc3iduzkWRm01TBBNYw&expires=2147483647',
    )
  })
  test('$key and ${key} stand for the secret; an unknown variable is refused', () => {
    const a = signNginxSecureLink({ url: 'http://e.com/a/b', expression: '$secure_link_expires$uri $key', secret: 'secret', expires: 2147483647 })
    const b = signNginxSecureLink({ url: 'http://e.com/a/b', expression: '${secure_link_expires}${uri} secret', secret: 'x', expires: 2147483647 })
    assert.equal(a, b)
    assert.throws(() => signNginxSecureLink({ url: 'http://e.com/a', expression: '$secure_link_expires$host', secret: 's', expires: 1 }), /\$host/)
  })
})

describe('cdnUrl and the cdn settings', () => {
  const base = defaults('/tmp/x').cdn
  const now = 1_700_000_000_000
  test('no baseUrl: undefined (the API serves the file); none: the plain URL; keys are encoded per segment', () => {
    assert.equal(cdnUrl({ cdn: base }, 'c/r/a.png', now), undefined)
    assert.equal(cdnUrl({ cdn: { ...base, baseUrl: 'https://cdn.example.com/files/' } }, 'c/r/a b.png', now), 'https://cdn.example.com/files/c/r/a%20b.png')
    assert.throws(() => cdnUrl({ cdn: { ...base, baseUrl: 'https://cdn.example.com' } }, '../x', now), /unsafe key/)
  })
  test('each signer, with the expiry from ttlSeconds', () => {
    const cdn = { ...base, baseUrl: 'https://cdn.example.com', key: 'secret', ttlSeconds: 600 }
    assert.equal(cdnUrl({ cdn: { ...cdn, signer: 'aliyun-a' } }, 'c/r/a.png', now), signAliyunTypeA({ url: 'https://cdn.example.com/c/r/a.png', privateKey: 'secret', timestamp: 1_700_000_000 }))
    assert.equal(
      cdnUrl({ cdn: { ...cdn, signer: 'nginx' } }, 'c/r/a.png', now),
      signNginxSecureLink({ url: 'https://cdn.example.com/c/r/a.png', expression: '$secure_link_expires$uri $key', secret: 'secret', expires: 1_700_000_600 }),
    )
    const pem = execFileSync('cat', [pemFile]).toString()
    const cf = cdnUrl({ cdn: { ...cdn, signer: 'cloudfront', key: pem, keyPairId: 'K9' } }, 'c/r/a.png', now)!
    assert.equal(cf, `https://cdn.example.com/c/r/a.png?Expires=1700000600&Signature=${opensslSignature(cannedPolicy('https://cdn.example.com/c/r/a.png', 1_700_000_600))}&Key-Pair-Id=K9`)
  })
  test('settings: PLINTH_CDN_* variables, the key from a file, and mistakes named at start-up', () => {
    const keyFile = path.join(dir, 'cdn.key')
    writeFileSync(keyFile, 'from-a-file\n')
    const env = { PLINTH_CDN_URL: 'https://cdn.example.com', PLINTH_CDN_SIGNER: 'nginx', PLINTH_CDN_KEY_FILE: keyFile, PLINTH_CDN_TTL_SECONDS: '60' }
    const config = loadConfig({ env, cwd: dir })
    assert.deepEqual({ ...config.cdn }, { ...base, baseUrl: 'https://cdn.example.com', signer: 'nginx', key: 'from-a-file', ttlSeconds: 60 })
    const bad = (extra: Record<string, string>) => () => loadConfig({ env: { ...env, ...extra }, cwd: dir })
    assert.throws(bad({ PLINTH_CDN_EXPRESSION: '$secure_link_expires$uri$remote_addr $key' }), /cdn\.expression: \$remote_addr/)
    assert.throws(bad({ PLINTH_CDN_EXPRESSION: '$uri $key' }), /never expires/)
    assert.throws(bad({ PLINTH_CDN_SIGNER: 'cloudfront', PLINTH_CDN_KEY_PAIR_ID: 'K1' }), /RSA private key/)
    assert.throws(bad({ PLINTH_CDN_SIGNER: 'cloudfront' }), /keyPairId/)
    assert.throws(bad({ PLINTH_CDN_SIGNER: 'akamai' }), /cdn\.signer/)
    assert.throws(() => loadConfig({ env: { PLINTH_CDN_SIGNER: 'aliyun-a', PLINTH_CDN_KEY: 'k' }, cwd: dir }), /cdn\.baseUrl/)
  })
})
