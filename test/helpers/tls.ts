/**
 * A self-signed certificate for local TLS servers (APNs stand-in, ...): made with `openssl` in a
 * temporary folder, valid for 127.0.0.1 and localhost, returned as PEM with the path of the
 * certificate (clients trust it as their CA).
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'

export interface TestCert {
  cert: string
  key: string
  /** The certificate's file: what a client's `ca=` points at. */
  certFile: string
  dir: string
  remove(): void
}

export function selfSignedCert(): TestCert {
  const dir = mkdtempSync(path.join(tmpdir(), 'plinth-tls-'))
  const certFile = path.join(dir, 'cert.pem')
  const keyFile = path.join(dir, 'key.pem')
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2',
    '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
    '-keyout', keyFile, '-out', certFile,
  ], { stdio: 'ignore' })
  return {
    cert: readFileSync(certFile, 'utf8'),
    key: readFileSync(keyFile, 'utf8'),
    certFile,
    dir,
    remove: () => rmSync(dir, { recursive: true, force: true }),
  }
}
