// The reference for the files scenarios: a bare node:http server streaming files from a folder
// with fs.createReadStream (Content-Type, Content-Length, Last-Modified; no ranges, no ETag, no
// rules). Plain JavaScript, so no tsx loader is involved.
// Usage: node bench/servers/static-files.mjs DIR PORT
import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import http from 'node:http'
import path from 'node:path'

const root = path.resolve(process.argv[2])
const port = Number(process.argv[3])
const server = http.createServer(async (req, res) => {
  if (req.url === '/api/health') return res.end('{}')
  const file = path.join(root, decodeURIComponent(new URL(req.url, 'http://x').pathname))
  if (!file.startsWith(root + path.sep)) return res.writeHead(404).end()
  try {
    const s = await stat(file)
    res.writeHead(200, { 'content-type': file.endsWith('.png') ? 'image/png' : 'application/octet-stream', 'content-length': s.size, 'last-modified': s.mtime.toUTCString() })
    createReadStream(file).pipe(res)
  } catch {
    res.writeHead(404).end()
  }
})
server.keepAliveTimeout = 72_000
server.listen(port, '127.0.0.1')
const stop = () => server.close(() => process.exit(0))
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
