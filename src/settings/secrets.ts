import { openWithMaster, sealWithMaster } from '../security/keys/key-ring.ts'
import { getPath, SECRET_PATHS, setPath } from './settings-model.ts'

/** How a sealed secret starts in the stored settings JSON. */
const SEALED = 'sealed:'

/**
 * The settings' secrets (`smtp.password`, `s3.secret`, `backups.s3.secret`) at rest: sealed with
 * the master key (AES-256-GCM, `keys.masterKey` or `master.key`, as the server's private keys are),
 * so a copy of the database alone does not give the SMTP password away. Every node of a cluster
 * must have the same master key (it already must, for encrypted fields).
 * NB: key material; `master` is read only when a secret is actually sealed or opened.
 */
export class SettingsSecrets {
  constructor(
    private readonly master: () => Uint8Array,
    private readonly onUnreadable: (path: string) => void,
  ) {}

  /** A copy of `stored` with each non-empty secret sealed. */
  seal(stored: Record<string, unknown>): Record<string, unknown> {
    const out = structuredClone(stored)
    for (const path of SECRET_PATHS) {
      const v = getPath(out, path)
      if (typeof v === 'string' && v !== '' && !v.startsWith(SEALED)) setPath(out, path, SEALED + sealWithMaster(this.master(), Buffer.from(v, 'utf8')))
    }
    return out
  }

  /** `stored` with its sealed secrets opened in place; one that this key cannot open becomes '' (and is reported). */
  open(stored: Record<string, unknown>): Record<string, unknown> {
    for (const path of SECRET_PATHS) {
      const v = getPath(stored, path)
      if (typeof v !== 'string' || !v.startsWith(SEALED)) continue
      try {
        setPath(stored, path, openWithMaster(this.master(), v.slice(SEALED.length)).toString('utf8'))
      } catch {
        setPath(stored, path, '')
        this.onUnreadable(path)
      }
    }
    return stored
  }
}
