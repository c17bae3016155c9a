/**
 * autocannon in this process, running until `stop()` (the load of the deploy tests, which must
 * last exactly as long as a rollout or a scale-up does). `reqErrors` says what each failed request met.
 */
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'

export interface CannonResult {
  requests: { total: number }
  non2xx: number
  errors: number
  timeouts: number
  statusCodeStats?: unknown
}
interface Instance {
  stop(): void
  on(event: 'reqError', fn: (err: Error) => void): void
}
const autocannon = createRequire(import.meta.url)('autocannon') as (opts: object, done: (err: Error | null, r: CannonResult) => void) => Instance

export function load(url: string, connections = 8): { stop(): Promise<CannonResult>; reqErrors: string[] } {
  const reqErrors: string[] = []
  let instance!: Instance
  const result = new Promise<CannonResult>((resolve, reject) => {
    // reconnectRate: autocannon writes its next request even after an answer with `Connection:
    // close`, which nginx sends every keepalive_requests (10000) answers on a connection, and then
    // meets a reset now and then (a client error, RFC 9112 §9.6). Opening a fresh connection every
    // 5000 requests keeps it under that limit, as a well-behaved client's reuse would be.
    instance = autocannon({ url, connections, duration: 600, reconnectRate: 5000 }, (err, r) => (err ? reject(err) : resolve(r)))
  })
  instance.on('reqError', (err) => reqErrors.push(`${new Date().toISOString()} ${String(err)}`))
  return {
    reqErrors,
    async stop() {
      instance.stop()
      return result
    },
  }
}

/**
 * Requests made one at a time by `send(i)` until stopped, `pauseMs` apart; counts the 200s, and
 * keeps every other answer or error, with when and what it was.
 */
export function repeat(send: (i: number) => Promise<Response>, pauseMs = 0): { stop(): Promise<{ ok: number; failed: string[] }> } {
  let running = true
  const failed: string[] = []
  let ok = 0
  const loop = (async () => {
    for (let i = 0; running; i++) {
      try {
        const res = await send(i)
        const text = await res.text()
        if (res.status === 200) ok++
        else failed.push(`${new Date().toISOString()} HTTP ${res.status} ${text.slice(0, 200)}`)
      } catch (err) {
        failed.push(String(err))
      }
      if (pauseMs > 0) await new Promise((r) => setTimeout(r, pauseMs))
    }
  })()
  return {
    async stop() {
      running = false
      await loop
      return { ok, failed }
    },
  }
}

/** Sequential record creations in `collection` through `url` until stopped; counts what failed, with the reasons. */
export function writes(url: string, collection = 'posts'): { stop(): Promise<{ ok: number; failed: string[] }> } {
  return repeat((i) =>
    fetch(`${url}/api/collections/${collection}/records`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ title: `w${i}` }),
    }),
  )
}

/** Asserts that none of `total` requests failed; the message (and stderr) says what each failure met. */
export function assertNone(what: string, failures: number, total: number, detail: string): void {
  if (failures > 0) process.stderr.write(`\n${what}: ${failures} failed of ${total}\n${detail}\n`)
  assert.equal(failures, 0, `${what}: ${failures} failed of ${total}\n${detail}`)
}

/** Creates the `posts` collection `writes()` fills (a title; anyone may list, view and create). */
export async function createPosts(url: string, superuserToken: string): Promise<void> {
  const res = await fetch(`${url}/api/collections`, {
    method: 'POST',
    headers: { authorization: superuserToken, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'posts', type: 'base', listRule: '', viewRule: '', createRule: '', fields: [{ name: 'title', type: 'text' }] }),
  })
  assert.equal(res.status, 200, await res.text())
}
