/**
 * A client that trickles its request is cut: headers must arrive within headersTimeout and the
 * whole request within requestTimeout, else the server answers 408 and closes the connection.
 * A raw socket plays the slow client against a real port.
 */
import assert from 'node:assert/strict'
import { mkdtempSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { Writable } from 'node:stream'
import { after, before, describe, test } from 'node:test'
import { createPlinth, type Plinth } from '../../src/app.ts'
import { createLogger } from '../../src/log.ts'

const quiet = () => createLogger({ logLevel: 'silent' }, new Writable({ write: (_c, _e, done) => done() }))

/**
 * Opens a socket, writes `head`, then one byte of body every 50 ms (never finishing: the body is
 * declared 1 MB). Resolves with what the server sent once it closes the connection; without a
 * limit it never would, and the runner's timeout fails the test.
 */
function trickle(port: number, head: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    let got = ''
    let timer: NodeJS.Timeout | undefined
    socket.on('connect', () => {
      socket.write(head)
      timer = setInterval(() => socket.writable && socket.write('x'), 50)
    })
    socket.on('data', (d: Buffer) => (got += d.toString()))
    socket.on('error', () => {}) // a reset after the server closes is the expected end
    socket.on('close', () => {
      clearInterval(timer)
      resolve(got)
    })
    socket.setTimeout(100_000, () => reject(new Error('the server never closed the connection')))
  })
}

describe('slow clients are cut off', () => {
  let app: Plinth
  let port: number
  before(async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'plinth-timeouts-'))
    app = await createPlinth({
      config: { env: {}, cwd: dir, overrides: { dir, http: '127.0.0.1:0', headersTimeout: 300, requestTimeout: 600 } },
      logger: quiet(),
    })
    app.http.post('/api/test/echo', async (request) => ({ got: request.body }))
    port = Number(new URL(await app.start()).port)
  })
  after(() => app?.stop())

  test('a body that trickles in is cut at requestTimeout with 408', async () => {
    const got = await trickle(port, 'POST /api/test/echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n{"a":"')
    assert.match(got, /^HTTP\/1\.1 408 /)
  })

  test('headers that trickle in are cut at headersTimeout with 408', async () => {
    const got = await trickle(port, 'GET /api/health HTTP/1.1\r\nHost: x\r\nX-Slow: ')
    assert.match(got, /^HTTP\/1\.1 408 /)
  })

  test('a normal request still works', async () => {
    const res = await fetch(`http://127.0.0.1:${port}/api/test/echo`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"a":1}' })
    assert.deepEqual(await res.json(), { got: { a: 1 } })
  })
})
