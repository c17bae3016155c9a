import { createHash } from 'node:crypto'
import type { Kysely } from 'kysely'
import type { Bus } from '../bus/bus.ts'
import type { PlinthConfig } from '../config/schema.ts'
import { configSources } from '../config/sources.ts'
import { ApiError } from '../errors.ts'
import type { Logger } from '../log.ts'
import { syncCollections } from '../records/collections/sync.ts'
import { SETTINGS_KEY } from '../sql/migrations/0014-settings.ts'
import { getPath, lockedSettings, mergeDeep, SECRET_PATHS, setPath, settingsDefaults, type LockedSetting, type Settings } from './settings-model.ts'
import { parsePatch, settingsErrors } from './settings-validate.ts'
import { SettingsSecrets } from './secrets.ts'

// NB: `any` is Kysely's convention for a schema known only at run time.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Db = Kysely<any>

/** The bus topic of settings changes; the message is the new version. */
export const SETTINGS_TOPIC = 'plinth:settings'

export interface SettingsStoreOptions {
  config: Readonly<PlinthConfig>
  /** The primary (settings are read fresh after a change, and written there). */
  db: () => Db
  /** The app URL when neither the settings nor `publicUrl` give one. */
  appUrl: string
  log: Pick<Logger, 'info' | 'warn' | 'error'>
  /** The master key that seals the secrets at rest (secrets.ts); read on first use. */
  masterKey: () => Uint8Array
}

const now = () => new Date().toISOString().replace('T', ' ')
const versionOf = (text: string) => createHash('sha256').update(text).digest('base64url').slice(0, 16)

/**
 * PocketBase's app settings, shared by every node: what superusers changed lives in `_params`
 * (key `settings`, a partial object: only what was ever saved), over the configuration's values,
 * under the values the configuration sets explicitly (those win and cannot be changed here).
 * After a change is committed the new version goes out on the bus and every node reloads (each
 * node also reads the stored version on a timer, as the collections do: `records/collections/sync.ts`);
 * `onChange` listeners then apply it (rate limits, batch, trusted proxy, mailer, request logs).
 */
export class SettingsStore {
  readonly locked: ReadonlyMap<string, LockedSetting>
  readonly #defaults: Settings
  #current: Settings
  #version = ''
  readonly #changeListeners = new Set<(version: string) => void>()
  readonly #listeners = new Set<(settings: Settings) => void>()
  readonly #secrets: SettingsSecrets

  private constructor(private readonly opts: SettingsStoreOptions) {
    this.#secrets = new SettingsSecrets(opts.masterKey, (path) =>
      opts.log.error({ setting: path }, "settings: a stored secret cannot be opened with this node's master key (keys.masterKey must be the same on every node)"),
    )
    this.#defaults = settingsDefaults(opts.config, opts.appUrl)
    this.locked = lockedSettings(opts.config, configSources(opts.config), this.#defaults)
    this.#current = this.#effective({})
  }

  /** Loads the stored settings once; `follow` keeps them in step with other nodes. */
  static async open(opts: SettingsStoreOptions): Promise<SettingsStore> {
    const store = new SettingsStore(opts)
    await store.reload()
    return store
  }

  /** The settings in force on this node (secrets included: never send this object as it is). */
  get current(): Readonly<Settings> {
    return this.#current
  }

  get version(): string {
    return this.#version
  }

  async #row(): Promise<{ value: string; updated: string }> {
    const row = (await this.opts.db().selectFrom('_params').select(['value', 'updated']).where('id', '=', SETTINGS_KEY).executeTakeFirst()) as
      | { value: string | null; updated: string }
      | undefined
    return { value: row?.value ?? '{}', updated: row?.updated ?? '' }
  }

  async #read(): Promise<string> {
    return (await this.#row()).value
  }

  async storedVersion(): Promise<string> {
    return versionOf(await this.#read())
  }

  /** Re-reads the stored settings and tells the listeners when they changed. */
  async reload(): Promise<void> {
    const text = await this.#read()
    const version = versionOf(text)
    if (version === this.#version) return
    this.#version = version
    this.#current = this.#effective(this.#parse(text))
    for (const listener of this.#listeners) {
      try {
        listener(this.#current)
      } catch (err) {
        this.opts.log.error({ err }, 'settings: applying a change failed')
      }
    }
  }

  #parse(text: string): Record<string, unknown> {
    try {
      const parsed: unknown = JSON.parse(text)
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) return this.#secrets.open(parsed as Record<string, unknown>)
    } catch {
      // below
    }
    this.opts.log.error({ key: SETTINGS_KEY }, 'settings: the stored settings are not a JSON object; using the configuration only')
    return {}
  }

  addChangeListener(listener: (version: string) => void): () => void {
    this.#changeListeners.add(listener)
    return () => this.#changeListeners.delete(listener)
  }

  /** Calls `listener` with the settings now and after every change (on this node or another). */
  onChange(listener: (settings: Readonly<Settings>) => void): () => void {
    this.#listeners.add(listener)
    listener(this.#current)
    return () => this.#listeners.delete(listener)
  }

  /** Follows changes made on other nodes (bus, and a timer for lost messages); resolves with the stop function. */
  follow(bus: Bus, intervalMs?: number): Promise<() => Promise<void>> {
    return syncCollections(this, bus, this.opts.log, { topic: SETTINGS_TOPIC, intervalMs, label: { name: 'settings', change: 'settings change' } })
  }

  #effective(stored: Record<string, unknown>): Settings {
    const out = mergeDeep(structuredClone(this.#defaults), stored)
    for (const [path, { value }] of this.locked) setPath(out as unknown as Record<string, unknown>, path, structuredClone(value))
    return out
  }

  /**
   * `PATCH /api/settings`: merges `body` over the stored settings, checks the result as
   * PocketBase does, saves it and applies it here (other nodes follow). A locked value may be sent
   * back unchanged (a form round trip), never changed: 400 naming it.
   */
  async update(body: unknown): Promise<void> {
    const patch = parsePatch(body)
    const changedLocks: Record<string, unknown> = {}
    for (const [path, lock] of this.locked) {
      const sent = getPath(patch, path)
      if (sent === undefined) continue
      // A secret is never sent out, so a round trip sends it blank (or not at all).
      const secret = (SECRET_PATHS as readonly string[]).includes(path)
      if (secret ? sent !== '' : JSON.stringify(sent) !== JSON.stringify(lock.value)) {
        setPath(changedLocks, path, { code: 'validation_values_mismatch', message: `Set by the configuration (${lock.source}); change it there.` })
      }
      removePath(patch, path)
    }
    if (Object.keys(changedLocks).length) throw new ApiError('bad_request', 'Some settings are set by the configuration and cannot be changed here.', changedLocks)
    // Read, merge, write only if nobody wrote in between (else again): two superusers saving
    // different sections at once on two nodes both keep their change.
    for (let attempt = 0; ; attempt++) {
      const row = await this.#row()
      const stored = mergeDeep(this.#parse(row.value), patch)
      const errors = settingsErrors(this.#effective(stored))
      if (Object.keys(errors).length) throw new ApiError('bad_request', 'An error occurred while saving the new settings.', errors)
      const result = await this.opts.db()
        .updateTable('_params')
        .set({ value: JSON.stringify(this.#secrets.seal(stored)), updated: now() })
        .where('id', '=', SETTINGS_KEY)
        .where('updated', '=', row.updated)
        .where('value', '=', row.value)
        .executeTakeFirst()
      if (Number(result.numUpdatedRows) > 0) break
      if (attempt >= 5) throw new ApiError('conflict', 'The settings were changed by someone else at the same time; try again.')
    }
    await this.reload()
    for (const listener of this.#changeListeners) listener(this.#version)
  }

  /** The settings as `GET /api/settings` answers: secrets left out, plus `@locked` (path -> where it is set). */
  toResponse(): Record<string, unknown> {
    const out = structuredClone(this.#current) as unknown as Record<string, unknown>
    for (const path of SECRET_PATHS) removePath(out, path)
    out['@locked'] = Object.fromEntries([...this.locked].map(([path, l]) => [path, l.source]))
    return out
  }
}

function removePath(obj: Record<string, unknown>, dotted: string): void {
  const parts = dotted.split('.')
  const parent = parts.length === 1 ? obj : getPath(obj, parts.slice(0, -1).join('.'))
  if (parent && typeof parent === 'object') delete (parent as Record<string, unknown>)[parts.at(-1)!]
}
