import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { StartupError } from '../config/errors.ts'
import type { PlinthConfig } from '../config/schema.ts'

export interface TlsFiles {
  cert: Buffer
  key: Buffer
  /** Where the certificate came from, for the start-up log. */
  certFile: string
}

/**
 * The certificate and key for `https` (config), or undefined when it is off. A file that cannot
 * be read, or is not PEM, stops start-up with one line naming it.
 *
 * `dev` makes (once) a self-signed certificate for localhost and 127.0.0.1 in `DIR/dev-tls/`.
 * Node can parse X.509 (`crypto.X509Certificate`) but not issue one, so this runs Debian's
 * `openssl` rather than carrying an ASN.1 writer or a dependency for a development convenience.
 */
export function loadTls(config: Pick<PlinthConfig, 'https' | 'dir'>): TlsFiles | undefined {
  if (!config.https) return undefined
  const [certFile, keyFile] = config.https === 'dev' ? devCertificate(config.dir) : (config.https.split(',') as [string, string])
  const read = (file: string, what: string, marker: RegExp): Buffer => {
    let pem: Buffer
    try {
      pem = readFileSync(file)
    } catch (err) {
      throw new StartupError(`https: cannot read the ${what} file ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`)
    }
    if (!marker.test(pem.toString('latin1'))) throw new StartupError(`https: ${file} is not a PEM ${what}`)
    return pem
  }
  return {
    cert: read(certFile, 'certificate', /-----BEGIN CERTIFICATE-----/),
    key: read(keyFile, 'private key', /-----BEGIN (RSA |EC )?PRIVATE KEY-----/),
    certFile,
  }
}

/** `DIR/dev-tls/{cert,key}.pem`, made on first use (EC P-256, 825 days). */
function devCertificate(dir: string): [string, string] {
  const folder = path.join(dir, 'dev-tls')
  const cert = path.join(folder, 'cert.pem')
  const key = path.join(folder, 'key.pem')
  if (existsSync(cert) && existsSync(key)) return [cert, key]
  mkdirSync(folder, { recursive: true, mode: 0o700 })
  try {
    // prettier-ignore
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '825',
      '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1',
      '-keyout', key, '-out', cert,
    ], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 30_000 })
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    throw new StartupError(code === 'ENOENT' ? 'https: dev needs the openssl command (apt-get install openssl), or give CERT_FILE,KEY_FILE' : `https: openssl could not make a development certificate in ${folder}`)
  }
  return [cert, key]
}
