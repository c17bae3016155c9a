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
 * `sending` (a claim) before any of them is tried, in the same transaction as the previous
 * window's outcomes (one write per window). A rerun skips every device with a row, except those
 * left `retry` (a provider's 429 or 5xx outlasted the engine's own retries). A device whose worker
 * died before its outcome was written stays `sending`, reported as unknown: it may have been
 * delivered, and it is never tried again. A crash so costs at most two windows per running chunk
 * of uncertain pushes (the one in flight, the one before whose outcomes were not yet written),
 * never a duplicate.
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
  const windows: (typeof todo)[] = []
  for (let i = 0; i < todo.length; i += WINDOW) windows.push(todo.slice(i, i + WINDOW))
  const claims = (w: typeof todo) => w.map((u) => ({ id: u.id, again: done.get(u.id) === 'retry' }))
  // One transaction per window, right before it is tried: the previous window's outcomes and this
  // window's claims (so a crash leaves only the window in flight claimed); the last outcomes after.
  let previous: Outcome[] = []
  for (const window of windows) {
    await write(deps.sql(), job.pushId, previous, claims(window))
    await deps.devices.deactivate(previous.filter((o) => o.outcome === 'invalid' && o.id.startsWith('p_')).map((o) => o.id))
    previous = await Promise.all(
      window.map(async (u): Promise<Outcome> => {
        try {
          return { id: u.id, ...(await u.run()) }
        } catch (err) {
          // An engine bug or an unexpected failure: retried with the chunk, like a 5xx.
          return { id: u.id, outcome: 'retry' as const, reason: (err as Error).message.slice(0, 100) }
        }
      }),
    )
    for (const o of previous) tally[o.outcome]++
  }
  if (previous.length) {
    await write(deps.sql(), job.pushId, previous, [])
    await deps.devices.deactivate(previous.filter((o) => o.outcome === 'invalid' && o.id.startsWith('p_')).map((o) => o.id))
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

/**
 * In one transaction: a window's outcomes (one statement per state and reason), then the next
 * window's claims (new rows `sending`; rows left `retry` back to `sending`), before any of it is tried.
 */
async function write(sql: SqlEngine, pushId: string, outcomes: Outcome[], units: { id: string; again: boolean }[]): Promise<void> {
  const groups = new Map<string, string[]>()
  for (const o of outcomes) {
    const k = `${o.outcome}\n${(o.reason ?? '').slice(0, 100)}`
    const ids = groups.get(k) ?? []
    ids.push(o.id)
    groups.set(k, ids)
  }
  const now = Date.now()
  const fresh = units.filter((u) => !u.again).map((u) => ({ pushId, deviceId: u.id, state: 'sending', reason: '', updated: now }))
  const again = units.filter((u) => u.again).map((u) => u.id)
  await sql.db.transaction().execute(async (tx) => {
    for (const [k, ids] of groups) {
      const [state, reason] = k.split('\n') as [string, string]
      await tx.updateTable(PUSH_SENDS_TABLE).set({ state, reason, updated: now }).where('pushId', '=', pushId).where('deviceId', 'in', ids).execute()
    }
    if (fresh.length) await tx.insertInto(PUSH_SENDS_TABLE).values(fresh).execute()
    if (again.length) await tx.updateTable(PUSH_SENDS_TABLE).set({ state: 'sending', updated: now }).where('pushId', '=', pushId).where('deviceId', 'in', again).execute()
  })
}
