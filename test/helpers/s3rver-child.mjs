// Runs s3rver for test/helpers/s3.ts in its own process: `node --openssl-legacy-provider
// s3rver-child.mjs DIR BUCKET...`, prints `PORT` once it listens, stops on SIGTERM.
// Two s3rver 3.7.1 faults are worked around here, not in Plinth:
// - ListObjectsV2 continuation tokens use DES, which OpenSSL 3 has only in its legacy provider
//   (hence the flag; without it any listing past 1000 keys fails with 500);
// - DeleteObjects deletes its keys in parallel and each removes its folder once empty, racing the
//   others (ENOENT, 500); the deletes here run one at a time;
// - listings come in folder-walk order (`a/1/x` before `a/1-b`), not S3's key order; here each
//   listing is sorted by key before it is cut to a page (no delimiter: Plinth never sends one).
import { createRequire } from 'node:module'

const S3rver = createRequire(import.meta.url)('s3rver')
const [directory, ...buckets] = process.argv.slice(2)
const server = new S3rver({ address: '127.0.0.1', port: 0, directory, silent: !process.env.S3RVER_LOG, configureBuckets: buckets.map((name) => ({ name })) })
const deleteObject = server.store.deleteObject.bind(server.store)
let last = Promise.resolve()
server.store.deleteObject = (...args) => {
  const run = last.then(() => deleteObject(...args))
  last = run.catch(() => {})
  return run
}
const listObjects = server.store.listObjects.bind(server.store)
server.store.listObjects = async (bucket, { startAfter = '', maxKeys = Infinity, ...options }) => {
  const all = await listObjects(bucket, { ...options, maxKeys: Infinity })
  const objects = all.objects.filter((o) => o.key > startAfter).sort((a, b) => Buffer.compare(Buffer.from(a.key), Buffer.from(b.key)))
  return { ...all, objects: objects.slice(0, maxKeys), isTruncated: objects.length > maxKeys }
}
const { port } = await server.run()
process.stdout.write(`${port}\n`)
process.on('SIGTERM', () => void server.close().then(() => process.exit(0)))
