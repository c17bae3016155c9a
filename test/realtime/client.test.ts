/**
 * One realtime client over a real HTTP server and socket: its messages in PocketBase's wire form,
 * the idle close (one sweep for the server's clients, as a node runs it), and the bounded send queue (a client that stops reading is cut, not buffered
 * without end). The small bounds here are the test's own, set through the client's options.
 */
import assert from 'node:assert/strict'
import { createServer, type Server, type ServerResponse } from 'node:http'
import { connect, type Socket } from 'node:net'
import { after, describe, test } from 'node:test'
import { RealtimeClient, sweepIdle, type CloseReason } from '../../src/realtime/client.ts'
import { parseSubscription } from '../../src/realtime/subscription.ts'

/** A server whose every request becomes a stream; resolves with the client made for the next one. */
async function streamServer(opts: { idleMs: number; maxQueueBytes: number }) {
  const waiting: ((v: { client: RealtimeClient; closed: Promise<CloseReason> }) => void)[] = []
  const clients = new Set<RealtimeClient>()
  const server: Server = createServer((_req, res: ServerResponse) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' })
    let closed!: (r: CloseReason) => void
    const done = new Promise<CloseReason>((r) => (closed = r))
    const client = new RealtimeClient(res, {
      maxQueueBytes: opts.maxQueueBytes,
      onClose: (c, reason) => {
        clients.delete(c)
        closed(reason)
      },
    })
    clients.add(client)
    waiting.shift()?.({ client, closed: done })
  })
  const stopSweep = sweepIdle(() => clients, opts.idleMs)
  server.on('close', stopSweep)
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const port = (server.address() as { port: number }).port
  return {
    server,
    /** Opens a raw connection that asks for a stream; `read: false` never reads a byte of it. */
    open(read: boolean): Promise<{ client: RealtimeClient; closed: Promise<CloseReason>; socket: Socket; text: () => string }> {
      return new Promise((resolve) => {
        let text = ''
        const socket = connect(port, '127.0.0.1', () => socket.write('GET /api/realtime HTTP/1.1\r\nHost: x\r\n\r\n'))
        if (read) socket.on('data', (d: Buffer) => (text += d.toString()))
        else socket.pause()
        socket.on('error', () => undefined)
        waiting.push((v) => resolve({ ...v, socket, text: () => text }))
      })
    },
  }
}

describe('realtime client', () => {
  const servers: Server[] = []
  after(() => {
    for (const s of servers) {
      s.closeAllConnections()
      s.close()
    }
  })

  test('writes id, event and data lines; ends an idle stream', async () => {
    const s = await streamServer({ idleMs: 200, maxQueueBytes: 1 << 20 })
    servers.push(s.server)
    const { client, closed, text } = await s.open(true)
    assert.match(client.id, /^[a-zA-Z0-9]{40}$/)
    client.send({ name: 'posts/*', data: '{"action":"create"}' })
    assert.equal(await closed, 'idle')
    assert.ok(text().includes(`id:${client.id}\nevent:posts/*\ndata:{"action":"create"}\n\n`), text())
    assert.ok(client.closed)
  })

  test('line breaks cannot end a line early: data continues on another data line, such names are not written', async () => {
    const s = await streamServer({ idleMs: 200, maxQueueBytes: 1 << 20 })
    servers.push(s.server)
    const { client, closed, text } = await s.open(true)
    client.setSubscriptions(['a/*', 'b\nevent:x', ''])
    assert.deepEqual([...client.subscriptions.keys()], ['a/*'])
    client.send({ name: 'evil\nevent:x', data: '{}' })
    client.send({ name: 'a/*', data: 'one\ntwo\r\nthree' })
    await closed
    assert.ok(!text().includes('evil'), text())
    assert.ok(text().includes(`event:a/*\ndata:one\ndata:two\ndata:three\n\n`), text())
  })

  test('a client that stops reading is disconnected once its queue passes the bound', async () => {
    const s = await streamServer({ idleMs: 60_000, maxQueueBytes: 64 * 1024 })
    servers.push(s.server)
    const { client, closed } = await s.open(false)
    const chunk = 'x'.repeat(16 * 1024)
    // The kernel's socket buffers take some first; the bound on the loop only stops a broken test.
    for (let i = 0; i < 20_000 && !client.closed; i++) {
      client.send({ name: 't', data: chunk })
      if (i % 50 === 0) await new Promise((r) => setImmediate(r))
    }
    assert.equal(await closed, 'overflow')
  })

  test('subscriptions: topic, options query and headers (names as rules see them); bad options ignored', () => {
    const options = encodeURIComponent(JSON.stringify({ query: { filter: 'a = 1', page: 2 }, headers: { 'X-Token': 'abc' } }))
    const sub = parseSubscription(`posts/*?options=${options}`)
    assert.equal(sub.topic, 'posts/*')
    assert.deepEqual({ ...sub.query }, { filter: 'a = 1', page: '2' })
    assert.deepEqual({ ...sub.headers }, { x_token: 'abc' })
    const bad = parseSubscription('posts/abc?options=%7Bnot-json')
    assert.equal(bad.topic, 'posts/abc')
    assert.deepEqual({ ...bad.query }, {})
  })
})
