import { existsSync, readFileSync, statSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { FastifyPluginAsync, FastifyReply } from 'fastify'

export interface AdminUiOptions {
  /** The built console (index.html and assets/); default: `dist/admin` of the package this file is in. */
  folder?: string
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.woff2': 'font/woff2',
}

/**
 * The page's own policy: scripts and styles only from this origin (the bundle has no inline code),
 * API calls to this origin, images also from elsewhere (files behind a CDN or on S3) and blob:
 * (previews of files not yet uploaded).
 */
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob: https: http:; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"

/** The package root: the nearest folder above this module with a package.json (works from src/ and from dist/chunks/). */
function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url))
  for (;;) {
    if (existsSync(path.join(dir, 'package.json'))) return dir
    const up = path.dirname(dir)
    if (up === dir) return process.cwd()
    dir = up
  }
}

/**
 * The admin console at `/_/` (PocketBase's path): the static bundle scripts/build.js writes to
 * dist/admin. Hashed assets (`/_/assets/name-HASH.js`) are cached for a year as immutable; every
 * other path under `/_/` answers index.html with `no-cache` (the console routes by `#/...`, and a
 * reload of any path must still open it). Files are read from disk per request (the OS caches
 * them), gzipped ahead by the build for browsers that accept it; names with `..` or outside assets/
 * never reach the disk. Without a build (running the
 * sources), `/_/` says how to make one.
 */
export const adminUiRoutes: FastifyPluginAsync<AdminUiOptions> = async (http, opts) => {
  const folder = opts.folder ?? path.join(packageRoot(), 'dist', 'admin')
  const indexFile = path.join(folder, 'index.html')
  const assetsDir = path.join(folder, 'assets')
  let index: { body: Buffer; mtimeMs: number } | undefined

  const sendIndex = async (reply: FastifyReply) => {
    if (!existsSync(indexFile)) {
      return reply.code(503).type('text/plain; charset=utf-8').header('cache-control', 'no-store')
        .send('The admin console is not built: run `npm run build` (it writes dist/admin).\n')
    }
    // index.html names the hashed assets of its build: read again when a rebuild replaced it.
    const mtimeMs = statSync(indexFile).mtimeMs
    if (index?.mtimeMs !== mtimeMs) index = { body: readFileSync(indexFile), mtimeMs }
    return reply.type(TYPES['.html']!).header('cache-control', 'no-cache').header('content-security-policy', CSP)
      .header('x-frame-options', 'DENY').send(index.body)
  }

  // With the router's ignoreTrailingSlash, `/_` and `/_/` may both land here: only the bare one redirects.
  http.get('/_', (request, reply) => (request.url.split('?')[0] === '/_' ? reply.redirect('/_/', 301) : sendIndex(reply)))
  // `/_/*` also matches `/_/` itself (an empty rest).
  http.get<{ Params: { '*': string } }>('/_/*', async (request, reply) => {
    const rest = request.params['*']
    const asset = /^assets\/([A-Za-z0-9_.-]+)$/.exec(rest)?.[1]
    if (rest.startsWith('assets/')) {
      // A stale or made-up asset name is a 404, never the index (a script tag would parse HTML as code).
      const file = asset && !asset.startsWith('.') ? path.join(assetsDir, asset) : undefined
      const type = asset ? TYPES[path.extname(asset)] : undefined
      if (file && type && existsSync(file) && statSync(file).isFile()) {
        reply.type(type).header('cache-control', 'public, max-age=31536000, immutable').header('vary', 'accept-encoding')
        // The build writes a gzip copy beside each asset (scripts/build-ui.js): sent as is to browsers that take it.
        if (/\bgzip\b/.test(String(request.headers['accept-encoding'] ?? '')) && existsSync(`${file}.gz`)) {
          return reply.header('content-encoding', 'gzip').send(await readFile(`${file}.gz`))
        }
        return reply.send(await readFile(file))
      }
      return reply.code(404).type('text/plain; charset=utf-8').send('Not found.\n')
    }
    if (rest === 'favicon.svg' || rest === 'favicon.ico') {
      const file = path.join(folder, 'favicon.svg')
      if (existsSync(file)) return reply.type(TYPES['.svg']!).header('cache-control', 'public, max-age=86400').send(await readFile(file))
    }
    // The single-page app's fallback: any other path opens the console.
    return sendIndex(reply)
  })
}
