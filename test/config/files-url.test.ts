/** The `files` URL: a local folder or an S3 bucket, checked at load, secrets never shown. */
import assert from 'node:assert/strict'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { test } from 'node:test'
import { loadConfig } from '../../src/config/load.ts'
import { maskUrl, parseFilesUrl } from '../../src/config/urls.ts'

test('files: the default is storage in the data folder, relative folders resolve against cwd', () => {
  const cwd = mkdtempSync(path.join(tmpdir(), 'plinth-cfg-'))
  assert.equal(loadConfig({ cwd, env: {} }).files, `file://${path.join(cwd, 'plinth_data', 'storage')}`)
  assert.equal(loadConfig({ cwd, env: { PLINTH_FILES: 'file://./up' } }).files, `file://${path.join(cwd, 'up')}`)
  assert.deepEqual(parseFilesUrl('file:///srv/files', 'files', cwd), { engine: 'local', dir: '/srv/files' })
})

test('files: s3 URLs name a bucket, endpoint, region, path style and keys', () => {
  assert.deepEqual(parseFilesUrl('s3://my-bucket?endpoint=http://127.0.0.1:9000/&region=cn&forcePathStyle=true&accessKeyId=AK&secretAccessKey=SK'), {
    engine: 's3', bucket: 'my-bucket', endpoint: 'http://127.0.0.1:9000', region: 'cn', forcePathStyle: true, accessKeyId: 'AK', secretAccessKey: 'SK',
  })
  assert.deepEqual(parseFilesUrl('s3://AK:S%2FK@b1b'), {
    engine: 's3', bucket: 'b1b', endpoint: undefined, region: 'us-east-1', forcePathStyle: false, accessKeyId: 'AK', secretAccessKey: 'S/K',
  })
  const dir = mkdtempSync(path.join(tmpdir(), 'plinth-cfg-'))
  writeFileSync(path.join(dir, 'secret'), 'from-file\n')
  assert.equal((parseFilesUrl(`s3://bkt?accessKeyId=AK&secretAccessKeyFile=${path.join(dir, 'secret')}`) as { secretAccessKey: string }).secretAccessKey, 'from-file')
  assert.equal(maskUrl('s3://bkt?accessKeyId=AK&secretAccessKey=SK'), 's3://bkt?accessKeyId=AK&secretAccessKey=****')
  assert.equal(maskUrl('s3://AK:SK@bkt'), 's3://AK:****@bkt')
})

test('files: a wrong URL stops start-up naming the key, never showing the secret', () => {
  const bad: [string, RegExp][] = [
    ['ftp://x', /config: files: unsupported scheme "ftp"/],
    ['s3://bkt?nope=1', /unknown parameter "nope"/],
    ['s3://bucket/path', /bucket name only/],
    ['s3://bucket?accessKeyId=AK', /both the access key id and its secret/],
    ['s3://bucket?endpoint=oss.example.com', /endpoint must be an http\(s\) URL/],
    ['s3://bucket?forcePathStyle=yes', /forcePathStyle must be true or false/],
    ['file://', /needs a folder/],
  ]
  for (const [url, message] of bad) assert.throws(() => parseFilesUrl(url), message, url)
  assert.throws(
    () => loadConfig({ cwd: tmpdir(), env: { PLINTH_FILES: 's3://AK:TOPSECRET@bucket/x' } }),
    (err: Error) => err.name === 'ConfigError' && !err.message.includes('TOPSECRET'),
  )
})
