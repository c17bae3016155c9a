import type { IncomingMessage, Server } from 'node:http'
import type { Duplex } from 'node:stream'
import { WebSocketServer } from 'ws'
import type { Im } from './hub.ts'

/** The WebSocket path, and the subprotocol a client names beside its token. */
export const IM_PATH = '/api/plinth/im'
export const IM_PROTOCOL = 'plinth-im'
/** What a token offered as a subprotocol looks like (a JWT: three base64url parts). */
const JWT = /^[\w-]+\.[\w-]+\.[\w-]+$/

/** Answers an upgrade request with a plain HTTP error in PocketBase's shape and closes it. */
function refuse(socket: Duplex, status: number, reason: string, message: string): void {
  const body = JSON.stringify({ status, message, data: {} })
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`)
}

/** Whether a browser's Origin may open the socket: none (a native app), `*`, or one listed. */
export function originAllowed(origin: string | undefined, allowed: readonly string[]): boolean {
  if (origin === undefined) return true
  return allowed.includes('*') || allowed.includes(origin)
}

/**
 * Serves `/api/plinth/im` on the HTTP server's `upgrade` event with `ws` (no Fastify request is
 * kept per socket: an idle connection costs the socket, ws's state and ours). The Origin is
 * checked before the handshake; the token comes in the first frame or as a subprotocol
 * (`Sec-WebSocket-Protocol: plinth-im, TOKEN`; the server answers `plinth-im`, never the token),
 * never in the URL. Upgrades to other paths get 404.
 */
export function serveIm(server: Server, im: Im, opts: { origins: readonly string[]; maxPayload: number }): () => void {
  const wss = new WebSocketServer({
    noServer: true,
    clientTracking: false,
    perMessageDeflate: false,
    maxPayload: opts.maxPayload,
    handleProtocols: (protocols) => (protocols.has(IM_PROTOCOL) ? IM_PROTOCOL : false),
  })
  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy())
    const path = (req.url ?? '').split('?')[0]
    if (path !== IM_PATH && path !== `${IM_PATH}/`) return refuse(socket, 404, 'Not Found', "The requested resource wasn't found.")
    if (!originAllowed(req.headers.origin, opts.origins)) return refuse(socket, 403, 'Forbidden', 'The origin is not allowed.')
    const offered = (req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim())
    const token = offered.find((p) => JWT.test(p))
    wss.handleUpgrade(req, socket, head, (ws) => im.attach(ws, req, token))
  }
  server.on('upgrade', onUpgrade)
  return () => {
    server.off('upgrade', onUpgrade)
    wss.close()
  }
}
