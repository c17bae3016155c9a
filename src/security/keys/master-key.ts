import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import path from 'node:path'

/**
 * The master key (32 bytes) from config (`keys.masterKey`, base64; `PLINTH_MASTER_KEY_FILE` reads
 * it from a file), else from `master.key` in the data folder, made (mode 0600) on first start.
 * NB: key material. A wrong length stops start-up with a message that names the setting, never the value.
 */
export function loadMasterKey(configured: string, dir: string): Uint8Array {
  if (configured) {
    const key = Buffer.from(configured, 'base64')
    if (key.length !== 32) throw new Error('config: keys.masterKey must be 32 bytes, base64 (openssl rand -base64 32)')
    return key
  }
  const file = path.join(dir, 'master.key')
  if (!existsSync(file)) {
    mkdirSync(dir, { recursive: true })
    writeFileSync(file, randomBytes(32).toString('base64') + '\n', { mode: 0o600, flag: 'wx' })
    chmodSync(file, 0o600)
  }
  const key = Buffer.from(readFileSync(file, 'utf8').trim(), 'base64')
  if (key.length !== 32) throw new Error(`${file} must hold 32 bytes, base64`)
  return key
}
