import type { Logger } from '../log.ts'
import type { SqlEngine } from '../sql/sql.ts'
import { PUSH_SENDS_TABLE } from '../sql/migrations/0013-push.ts'
import type { PushDevices } from './devices.ts'
import type { PushDevice, PushMessage, PushPort, PushResult } from './push.ts'

/**
 * One chunk of a push: the users of one planning page, sent on every engine.
 *
 * Per-device state makes a resumed chunk (its worker died, or it failed and the queue retries it)
 * send to no device twice: devices are taken `WINDOW` at a time, each window's rows are written
 * `sending` (a claim) before any of them is tried, and their outcomes after. A rerun skips every
 * device with a row, except those left `retry` (a provider's 429 or 5xx outlasted the engine's own
 * retries). A device whose worker died between its claim and its outcome stays `sending`, reported
 * as unknown: it may or may not have been delivered, and it is never tried again, so a crash
 * costs at most one window of uncertain pushes, never a duplicate.
 */
export const WINDOW = 64

export interface ChunkJob {
  pushId: string
  chunk: number
  collectionId: string
  userIds: string[]
}

type Outcome = PushResult & { id: string }

export interface ChunkDeps {
  sql: () => SqlEngine
  port: PushPort
  devices: PushDevices
  log: Pick<Logger, 'info' | 'warn'>
}

/** Sends one chunk; throws when devices are left to retry (the queue runs the chunk again later). */
export async function sendChunk(deps: ChunkDeps, job: ChunkJob, message: PushMessage): Promise<{ sent: number; invalid: number; failed: number; retry: number }> {
  const tally = { sent: 0, invalid: 0, failed: 0, retry: 0 }
  const devices = await deps.devices.activeOf(job.collectionId, job.userIds)
  // User engines (RongCloud) get the chunk's users in one call each, recorded as one row.
  const units: { id: string; run: () => Promise<PushResult> }[] = []
  for (const e of deps.port.userEngines) {
    for (let i = 0; i < job.userIds.length; i += e.maxUsers) {
      const users = job.userIds.slice(i, i + e.maxUsers)
      units.push({ id: `${e.name}:${job.chunk}:${i / e.maxUsers}`, run: () => e.sendToUsers(users, message) })
    }
  }
  for (const d of devices) units.push({ id: d.id, run: () => sendOne(deps.port, d, message) })
  const done = await previousStates(deps.sql(), job.pushId, units.map((u) => u.id))
  const todo = units.filter((u) => !done.has(u.id) || done.get(u.id) === 'retry')
  for (let i = 0; i < todo.length; i += WINDOW) {
    const window = todo.slice(i, i + WINDOW)
    await claim(deps.sql(), job.pushId, window.map((u) => ({ id: u.id, again: done.get(u.id) === 'retry' })))
    const outcomes: Outcome[] = await Promise.all(
      window.map(async (u) => {
        try {
          return { id: u.id, ...(await u.run()) }
        } catch (err) {
          // An engine bug or an unexpected failure: retried with the chunk, like a 5xx.
          return { id: u.id, outcome: 'retry' as const, reason: (err as Error).message.slice(0, 100) }
        }
      }),
    )
    await record(deps.sql(), job.pushId, outcomes)
    await deps.devices.deactivate(outcomes.filter((o) => o.outcome === 'invalid' && o.id.startsWith('p_')).map((o) => o.id))
    for (const o of outcomes) tally[o.outcome]++
  }
  if (tally.retry) throw new Error(`push ${job.pushId} chunk ${job.chunk}: ${tally.retry} deliveries to retry`)
  return tally
}

function sendOne(port: PushPort, device: PushDevice, message: PushMessage): Promise<PushResult> {
  const engine = port.forPlatform(device.platform)
  if (!engine) return Promise.resolve({ outcome: 'failed', reason: `no engine for ${device.platform}` })
  return engine.send(device, message)
}

async function previousStates(sql: SqlEngine, pushId: string, ids: string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>()
  for (let i = 0; i < ids.length; i += 500) {
    const rows = (await sql.db.selectFrom(PUSH_SENDS_TABLE).select(['deviceId', 'state']).where('pushId', '=', pushId).where('deviceId', 'in', ids.slice(i, i + 500)).execute()) as { deviceId: string; state: string }[]
    for (const r of rows) out.set(r.deviceId, r.state)
  }
  return out
}

/** Writes the window's claims before any of it is tried (new rows; `retry` rows back to `sending`). */
async function claim(sql: SqlEngine, pushId: string, units: { id: string; again: boolean }[]): Promise<void> {
  const now = Date.now()
  const fresh = units.filter((u) => !u.again).map((u) => ({ pushId, deviceId: u.id, state: 'sending', reason: '', updated: now }))
  const again = units.filter((u) => u.again).map((u) => u.id)
  await sql.db.transaction().execute(async (tx) => {
    if (fresh.length) await tx.insertInto(PUSH_SENDS_TABLE).values(fresh).execute()
    if (again.length) await tx.updateTable(PUSH_SENDS_TABLE).set({ state: 'sending', updated: now }).where('pushId', '=', pushId).where('deviceId', 'in', again).execute()
  })
}

/** Writes the window's outcomes, one statement per (state, reason). */
async function record(sql: SqlEngine, pushId: string, outcomes: Outcome[]): Promise<void> {
  const groups = new Map<string, string[]>()
  for (const o of outcomes) {
    const k = `${o.outcome}\n${(o.reason ?? '').slice(0, 100)}`
    const ids = groups.get(k) ?? []
    ids.push(o.id)
    groups.set(k, ids)
  }
  const now = Date.now()
  await sql.db.transaction().execute(async (tx) => {
    for (const [k, ids] of groups) {
      const [state, reason] = k.split('\n') as [string, string]
      await tx.updateTable(PUSH_SENDS_TABLE).set({ state, reason, updated: now }).where('pushId', '=', pushId).where('deviceId', 'in', ids).execute()
    }
  })
}
