import { createHash } from 'node:crypto'
import type { SqlEngine } from '../sql/sql.ts'
import { PUSH_DEVICES_TABLE } from '../sql/migrations/0013-push.ts'
import type { Platform, PushDevice } from './push.ts'

/**
 * Devices registered for push, one row per (platform, token). Registering a token that is already
 * known updates that row: a user's device that re-registers (a new app version, a new locale)
 * stays one row, and a phone passed to someone else, or signed out and into another account,
 * moves its token to the new owner instead of pushing the old owner's notifications to it.
 * A token a provider reported dead is kept with `active` 0 until its app registers it again.
 */
export interface DeviceOwner {
  collectionId: string
  recordId: string
}

export interface DeviceInput {
  platform: Platform
  token: string
  /** The APNs topic (bundle id) of the app; empty: the engine's default. */
  topic?: string
  locale?: string
  appVersion?: string
}

export interface PushDeviceJson {
  id: string
  platform: Platform
  token: string
  topic: string
  locale: string
  appVersion: string
  active: boolean
  created: string
  updated: string
}

interface Row {
  id: string
  collectionId: string
  recordId: string
  platform: string
  token: string
  topic: string
  locale: string
  appVersion: string
  active: number | boolean
  created: number | string
  updated: number | string
}

/** How many devices one record may have; registering one more drops its least recently updated. */
export const MAX_DEVICES_PER_RECORD = 20

/** The device id for a token: stable, so a second registration finds the row. */
export function deviceId(platform: Platform, token: string): string {
  return 'p_' + createHash('sha256').update(`${platform}\n${token}`).digest('base64url').slice(0, 40)
}

function toJson(r: Row): PushDeviceJson {
  return {
    id: r.id,
    platform: r.platform as Platform,
    token: r.token,
    topic: r.topic,
    locale: r.locale,
    appVersion: r.appVersion,
    active: Number(r.active) === 1,
    created: new Date(Number(r.created)).toISOString(),
    updated: new Date(Number(r.updated)).toISOString(),
  }
}

export class PushDevices {
  constructor(private readonly sql: () => SqlEngine) {}

  /** Registers (or re-registers, or moves) a device to `owner`; answers it. */
  async register(owner: DeviceOwner, input: DeviceInput): Promise<PushDeviceJson> {
    const engine = this.sql()
    const now = Date.now()
    const id = deviceId(input.platform, input.token)
    const fields = { ...owner, topic: input.topic ?? '', locale: input.locale ?? '', appVersion: input.appVersion ?? '', active: 1, updated: now }
    const row: Row = { id, platform: input.platform, token: input.token, created: now, ...fields }
    const insert = engine.db.insertInto(PUSH_DEVICES_TABLE).values(row)
    await (engine.capabilities.upsert === 'on-conflict'
      ? insert.onConflict((oc) => oc.column('id').doUpdateSet(fields))
      : insert.onDuplicateKeyUpdate(fields)
    ).execute()
    // Bound the rows one record holds: the oldest registrations beyond the cap go.
    const mine = (await engine.db.selectFrom(PUSH_DEVICES_TABLE).select(['id']).where('collectionId', '=', owner.collectionId).where('recordId', '=', owner.recordId).orderBy('updated', 'desc').orderBy('id').execute()) as { id: string }[]
    const extra = mine.slice(MAX_DEVICES_PER_RECORD).map((r) => r.id)
    if (extra.length) await engine.db.deleteFrom(PUSH_DEVICES_TABLE).where('id', 'in', extra).execute()
    const saved = (await engine.db.selectFrom(PUSH_DEVICES_TABLE).selectAll().where('id', '=', id).executeTakeFirstOrThrow()) as Row
    return toJson(saved)
  }

  async list(owner: DeviceOwner): Promise<PushDeviceJson[]> {
    const rows = (await this.sql().db.selectFrom(PUSH_DEVICES_TABLE).selectAll().where('collectionId', '=', owner.collectionId).where('recordId', '=', owner.recordId).orderBy('created').orderBy('id').execute()) as Row[]
    return rows.map(toJson)
  }

  /** True when a device of `owner` was removed (sign-out on that device). */
  async remove(owner: DeviceOwner, id: string): Promise<boolean> {
    const res = await this.sql().db.deleteFrom(PUSH_DEVICES_TABLE).where('id', '=', id).where('collectionId', '=', owner.collectionId).where('recordId', '=', owner.recordId).executeTakeFirst()
    return Number(res.numDeletedRows) > 0
  }

  /** The active devices of these records (one collection), for a send. */
  async activeOf(collectionId: string, recordIds: readonly string[]): Promise<(PushDevice & { recordId: string })[]> {
    if (!recordIds.length) return []
    const rows = (await this.sql().db
      .selectFrom(PUSH_DEVICES_TABLE)
      .select(['id', 'recordId', 'platform', 'token', 'topic', 'locale'])
      .where('collectionId', '=', collectionId)
      .where('recordId', 'in', [...recordIds])
      .where('active', '=', 1)
      .orderBy('id')
      .execute()) as Row[]
    return rows.map((r) => ({ id: r.id, recordId: r.recordId, platform: r.platform as Platform, token: r.token, topic: r.topic, locale: r.locale }))
  }

  /** Marks devices whose provider said the token is dead. */
  async deactivate(ids: readonly string[]): Promise<void> {
    if (!ids.length) return
    await this.sql().db.updateTable(PUSH_DEVICES_TABLE).set({ active: 0, updated: Date.now() }).where('id', 'in', [...ids]).execute()
  }

  /** Every device of a record goes when the record does (app code calls it from a delete hook). */
  async removeAllOf(owner: DeviceOwner): Promise<void> {
    await this.sql().db.deleteFrom(PUSH_DEVICES_TABLE).where('collectionId', '=', owner.collectionId).where('recordId', '=', owner.recordId).execute()
  }
}
