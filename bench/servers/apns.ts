/**
 * The local APNs stand-in (test/helpers/apns-server.ts) as a process of its own for the push
 * bench, so its work and memory are not counted as Plinth's. Prints one JSON line
 * `{url, keyFile, certFile}` once it listens; answers 200 to every valid request and keeps only a
 * count (`GET`-less: the count is printed on SIGTERM).
 */
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { startApns } from '../../test/helpers/apns-server.ts'

const apns = await startApns(mkdtempSync(path.join(tmpdir(), 'plinth-bench-apns-')))
apns.record = false
process.stdout.write(JSON.stringify({ url: apns.url, keyFile: apns.keyFile, certFile: apns.cert.certFile }) + '\n')
process.on('SIGTERM', () => {
  process.stdout.write(JSON.stringify({ count: apns.count }) + '\n')
  void apns.close().then(() => process.exit(0))
})
