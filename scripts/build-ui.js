// Builds the admin console (ui/, Preact + TSX) into dist/admin, served by Plinth at /_/
// (src/api/admin-ui.ts). esbuild bundles ui/main.tsx with Preact and the PocketBase SDK into one
// minified script and one stylesheet with content hashes in their names (cached as immutable), then
// writes index.html naming them (served no-cache). Nothing is built at run time; nothing comes from a CDN.
import { mkdirSync, readFileSync, rmSync, writeFileSync, copyFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)))
const out = path.join(root, 'dist', 'admin')

/** Bundles the console; returns the sizes of what it wrote ({file: {bytes, gzip}}). */
export async function buildUi() {
  const { build } = await import('esbuild')
  rmSync(out, { recursive: true, force: true })
  mkdirSync(out, { recursive: true })
  const result = await build({
    absWorkingDir: root,
    entryPoints: ['ui/main.tsx'],
    outdir: path.join(out, 'assets'),
    entryNames: '[name]-[hash]',
    assetNames: '[name]-[hash]',
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2020', 'chrome100', 'safari15', 'firefox100'],
    jsx: 'automatic',
    jsxImportSource: 'preact',
    tsconfig: 'ui/tsconfig.json',
    metafile: true,
    legalComments: 'none',
    charset: 'utf8',
    logLevel: 'warning',
  })
  const outputs = Object.keys(result.metafile.outputs).map((f) => path.basename(f))
  const js = outputs.find((f) => f.endsWith('.js'))
  const css = outputs.find((f) => f.endsWith('.css'))
  if (!js || !css) throw new Error('scripts/build-ui.js: esbuild wrote no script or no stylesheet')
  const html = readFileSync(path.join(root, 'ui', 'index.html'), 'utf8')
    .replace('%SCRIPT%', `./assets/${js}`)
    .replace('%STYLE%', `./assets/${css}`)
  writeFileSync(path.join(out, 'index.html'), html)
  copyFileSync(path.join(root, 'ui', 'favicon.svg'), path.join(out, 'favicon.svg'))
  const sizes = {}
  for (const f of [js, css]) {
    const body = readFileSync(path.join(out, 'assets', f))
    // Served to browsers that accept gzip (src/api/admin-ui.ts): compressed once here, never per request.
    const gz = gzipSync(body, { level: 9 })
    writeFileSync(path.join(out, 'assets', `${f}.gz`), gz)
    sizes[f] = { bytes: body.length, gzip: gz.length }
  }
  sizes['index.html'] = { bytes: Buffer.byteLength(html), gzip: gzipSync(html, { level: 9 }).length }
  return sizes
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const sizes = await buildUi()
  let total = 0
  for (const [f, s] of Object.entries(sizes)) {
    total += s.gzip
    process.stdout.write(`${f}: ${s.bytes} bytes, ${s.gzip} gzip\n`)
  }
  process.stdout.write(`total gzip: ${total} bytes\n`)
}
