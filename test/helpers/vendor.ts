/**
 * A local stand-in for an OAuth2 vendor: a real HTTP server whose routes the test writes, and a
 * log of what our client really sent (method, path, query, headers, form body).
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface SeenRequest {
  method: string
  path: string
  query: Record<string, string>
  headers: IncomingHttpHeaders
  form: Record<string, string>
}

export type VendorRoute = (req: SeenRequest) => { status?: number; body: unknown } | Promise<{ status?: number; body: unknown }>

export interface Vendor {
  url: string
  seen: SeenRequest[]
  routes: Map<string, VendorRoute>
  close(): Promise<void>
}

export async function startVendor(routes: Record<string, VendorRoute> = {}): Promise<Vendor> {
  const table = new Map(Object.entries(routes))
  const seen: SeenRequest[] = []
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const u = new URL(req.url ?? '/', 'http://x')
      const text = Buffer.concat(chunks).toString('utf8')
      const s: SeenRequest = {
        method: req.method ?? '',
        path: u.pathname,
        query: Object.fromEntries(u.searchParams),
        headers: req.headers,
        form: req.headers['content-type']?.startsWith('application/x-www-form-urlencoded') ? Object.fromEntries(new URLSearchParams(text)) : {},
      }
      seen.push(s)
      const route = table.get(`${s.method} ${s.path}`)
      Promise.resolve(route ? route(s) : { status: 404, body: { error: 'not_found' } }).then(
        (out) => {
          res.writeHead(out.status ?? 200, { 'content-type': 'application/json' })
          res.end(JSON.stringify(out.body))
        },
        (err: Error) => {
          res.writeHead(500, { 'content-type': 'application/json' })
          res.end(JSON.stringify({ error: err.message }))
        },
      )
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    routes: table,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}
