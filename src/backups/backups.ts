/**
 * Backups as PocketBase has them (`/api/backups`, `plinth backup`): zips in the files port under
 * `_backups/`, each a transaction-consistent, engine-neutral dump of the database plus the stored
 * files (archive.ts). One backup or restore runs at a time per node (`canBackup` is false
 * meanwhile); a restore refuses while any other node serves (presence.ts).
 */
import type { Readable } from 'node:stream'
import type { Bus } from '../bus/bus.ts'
import type { FileStore } from '../files/files.ts'
import type { Logger } from '../log.ts'
import type { SqlEngine } from '../sql/sql.ts'
import type { CopyHooks } from '../copy/copy.ts'
import { BACKUPS_PREFIX, createArchive, restoreArchive } from './archive.ts'
import { otherNodes } from './presence.ts'

/** PocketBase's rule for backup names. */
export const BACKUP_NAME = /^[a-z0-9_-]+\.zip$/
/** The prefix of scheduled backups (PocketBase's), the only ones retention removes. */
export const AUTO_PREFIX = '@auto_pb_backup_'

export interface BackupInfo {
  key: string
  size: number
  /** PocketBase's datetime text: `2024-01-02 03:04:05.678Z`. */
  modified: string
}

/** A backup request that cannot be done (PocketBase answers these 400). */
export class BackupError extends Error {
  override name = 'BackupError'
}

export interface BackupsDeps {
  /** The engine writes go to (the primary). */
  sql: () => SqlEngine
  files: FileStore
  bus: Bus
  /** The data folder (heartbeat files of nodes on this machine). */
  dir: string
  /** This node's id, when it serves (a restore through it must not count itself). */
  nodeId?: string
  log: Logger
  /** Called after a restore replaced the database (reloads collections). */
  afterRestore?: () => Promise<void>
}

const pbDate = (d: Date) => d.toISOString().replace('T', ' ')
/** `20260102030405`: PocketBase's timestamp in generated names. */
const stamp = (d = new Date()) => d.toISOString().replace(/[-:T]/g, '').slice(0, 14)

export class Backups {
  #active: string | undefined
  #restoring = false
  constructor(private readonly deps: BackupsDeps) {}

  /** False while a backup or restore runs here (`/api/health`'s `canBackup`). */
  get canBackup(): boolean {
    return this.#active === undefined
  }

  /** True while a restore replaces the database (requests are refused meanwhile). */
  get restoring(): boolean {
    return this.#restoring
  }

  /** Whether a backup or restore runs now, and on which key. */
  get active(): string | undefined {
    return this.#active
  }

  async list(): Promise<BackupInfo[]> {
    const out: BackupInfo[] = []
    for await (const o of this.deps.files.list(BACKUPS_PREFIX)) {
      const key = o.key.slice(BACKUPS_PREFIX.length)
      if (key && !key.includes('/')) out.push({ key, size: o.size, modified: pbDate(o.modified) })
    }
    return out.sort((a, b) => (a.modified < b.modified ? 1 : a.modified > b.modified ? -1 : a.key < b.key ? -1 : 1))
  }

  async exists(key: string): Promise<boolean> {
    return !key.includes('/') && !!(await this.deps.files.stat(`${BACKUPS_PREFIX}${key}`))
  }

  #begin(key: string): void {
    if (this.#active !== undefined) throw new BackupError('Try again later - another backup/restore process has already been started.')
    this.#active = key
  }

  /** Creates a backup named `name` (default `pb_backup_<time>.zip`); resolves with its key once stored. */
  async create(name = `pb_backup_${stamp()}.zip`, hooks: Pick<CopyHooks, 'onRows' | 'onTotal'> = {}): Promise<string> {
    this.#begin(name)
    try {
      const started = Date.now()
      const manifest = await createArchive(this.deps.sql(), this.deps.files, name, hooks)
      this.deps.log.info({ backup: name, tables: manifest.tables.length, rows: manifest.tables.reduce((n, t) => n + t.rows, 0), ms: Date.now() - started }, 'backup created')
      return name
    } finally {
      this.#active = undefined
    }
  }

  /** Stores an uploaded archive under `name`. */
  async upload(name: string, body: Readable): Promise<void> {
    await this.deps.files.put(`${BACKUPS_PREFIX}${name}`, body, { contentType: 'application/zip' })
  }

  async read(key: string) {
    return key.includes('/') ? null : this.deps.files.read(`${BACKUPS_PREFIX}${key}`)
  }

  async delete(key: string): Promise<void> {
    if (this.#active === key) throw new BackupError('The backup is currently being used and cannot be deleted.')
    if (!(await this.exists(key))) throw new BackupError('Invalid or already deleted backup file.')
    await this.deps.files.delete(`${BACKUPS_PREFIX}${key}`)
  }

  /** Refuses (BackupError) while other nodes serve, naming them and how to stop them. */
  async checkAlone(): Promise<void> {
    const others = await otherNodes(this.deps.bus, this.deps.dir, this.deps.nodeId)
    if (others.length) {
      throw new BackupError(
        `${others.length} other node(s) serve this deployment (${others.join(', ')}): stop them first (SIGTERM each plinth serve/worker, e.g. systemctl stop plinth on each host), then restore.`,
      )
    }
  }

  /**
   * Replaces the database and stored files with the backup's. NB: destroys the current content.
   * `checked`: the caller already saw that the backup exists and that no other node serves.
   */
  async restore(key: string, hooks: CopyHooks = {}, opts: { checked?: boolean } = {}): Promise<void> {
    if (!opts.checked) {
      if (!(await this.exists(key))) throw new BackupError('Missing or invalid backup file.')
      await this.checkAlone()
    }
    // With `checked`, this runs before the first await: `canBackup` is false once restore() returns its promise.
    this.#begin(key)
    this.#restoring = true
    try {
      const started = Date.now()
      const report = await restoreArchive(this.deps.sql(), this.deps.files, key, hooks)
      await this.deps.afterRestore?.()
      this.deps.log.info({ backup: key, tables: report.tables.length, rows: report.rows, files: report.files, ms: Date.now() - started }, 'backup restored')
    } finally {
      this.#active = undefined
      this.#restoring = false
    }
  }

  /** A scheduled backup, then the oldest scheduled ones beyond `maxKeep` removed (PocketBase's retention). */
  async scheduled(maxKeep: number): Promise<void> {
    await this.create(`${AUTO_PREFIX}${stamp()}.zip`)
    const auto = (await this.list()).filter((b) => b.key.startsWith(AUTO_PREFIX)).sort((a, b) => (a.key < b.key ? 1 : -1))
    for (const old of auto.slice(maxKeep)) await this.deps.files.delete(`${BACKUPS_PREFIX}${old.key}`)
  }
}
