/**
 * A real nginx as the CDN edge in front of an origin serving stored files: URLs signed by
 * `cdnUrl` with the nginx signer are served (then from nginx's cache), tampered or expired ones
 * get 403 from nginx before the origin sees them.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import { defaults } from '../../src/config/schema.ts'
import { cdnUrl } from '../../src/files/cdn/cdn.ts'
import { localStore } from '../../src/files/local.ts'
import { nginxSkip, startNginxEdge, type NginxEdge } from '../helpers/nginx.ts'

const SECRET = 'edge-secret-42'

describe('nginx edge with secure_link and proxy_cache', { skip: nginxSkip() }, () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'plinth-origin-'))
  const store = localStore({ dir })
  const originHits: string[] = []
  let origin: Server
  let edge: NginxEdge
  let cdn: ReturnType<typeof defaults>['cdn']
  const body = Buffer.alloc(300_000, 'plinth ')

  before(async () => {
    await store.put('c1/r1/photo.jpg', body)
    await store.put('c1/r1/other.jpg', Buffer.from('other'))
    // The origin: serves stored files by path, as the files API would.
    origin = createServer((req, res) => {
      const key = decodeURIComponent(new URL(req.url!, 'http://x').pathname.slice(1))
      originHits.push(key)
      void store.read(key).then((found) => {
        if (!found) return void res.writeHead(404).end()
        res.writeHead(200, { 'content-length': found.size, 'content-type': 'image/jpeg' })
        found.body.pipe(res)
      }, () => res.writeHead(400).end())
    })
    await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve))
    const upstream = `http://127.0.0.1:${(origin.address() as AddressInfo).port}`
    // The same expression on both sides: nginx.conf with the secret written in, Plinth with $key.
    edge = await startNginxEdge({ upstream, secureLinkMd5: `$secure_link_expires$uri ${SECRET}` })
    cdn = { ...defaults(dir).cdn, baseUrl: edge.url, signer: 'nginx', key: SECRET, ttlSeconds: 300 }
  })
  after(async () => {
    await edge?.stop()
    await new Promise((resolve) => origin?.close(resolve))
    rmSync(dir, { recursive: true, force: true })
  })

  test('a signed URL is served, and the second request comes from the cache', async () => {
    const url = cdnUrl({ cdn }, 'c1/r1/photo.jpg')!
    const first = await fetch(url)
    assert.equal(first.status, 200)
    assert.equal(first.headers.get('x-cache-status'), 'MISS')
    assert.deepEqual(Buffer.from(await first.arrayBuffer()), body)
    // Another signature for the same file (a later expiry) shares the cache entry.
    const second = await fetch(cdnUrl({ cdn }, 'c1/r1/photo.jpg', Date.now() + 5000)!)
    assert.equal(second.status, 200)
    assert.equal(second.headers.get('x-cache-status'), 'HIT')
    assert.deepEqual(Buffer.from(await second.arrayBuffer()), body)
    assert.deepEqual(originHits.filter((k) => k === 'c1/r1/photo.jpg'), ['c1/r1/photo.jpg'])
  })

  test('tampered, borrowed, unsigned or expired URLs get 403 and never reach the origin', async () => {
    const before = originHits.length
    const good = new URL(cdnUrl({ cdn }, 'c1/r1/other.jpg')!)
    const md5 = good.searchParams.get('md5')!
    const variants: string[] = []
    const tampered = new URL(good)
    tampered.searchParams.set('md5', (md5[0] === 'A' ? 'B' : 'A') + md5.slice(1))
    variants.push(tampered.toString())
    const longer = new URL(good)
    longer.searchParams.set('expires', String(Number(good.searchParams.get('expires')) + 3600))
    variants.push(longer.toString())
    // The signature of one file on another's path.
    variants.push(good.toString().replace('other.jpg', 'photo.jpg'))
    variants.push(`${edge.url}/c1/r1/other.jpg`)
    // Signed an hour ago with a 5-minute life.
    variants.push(cdnUrl({ cdn }, 'c1/r1/other.jpg', Date.now() - 3600_000)!)
    for (const url of variants) {
      const res = await fetch(url)
      await res.arrayBuffer()
      assert.equal(res.status, 403, url)
    }
    assert.equal(originHits.length, before)
    const ok = await fetch(good)
    assert.equal(ok.status, 200)
    assert.equal(await ok.text(), 'other')
  })
})
