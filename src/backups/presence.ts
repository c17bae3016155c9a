/**
 * Which other nodes serve this deployment now, so a restore (which replaces the database under
 * every node) can refuse while any does. Each serving node answers pings on the bus (Redis pub/sub
 * in a cluster) and also keeps a heartbeat file in its data folder (`nodes/<id>`, touched every few
 * seconds), which is what finds a `plinth serve` on the same machine when the bus is in-process.
 */
import { mkdirSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import type { Bus } from '../bus/bus.ts'

const PING = 'plinth.nodes.ping'
const PONG = 'plinth.nodes.pong'
/** How often a node touches its heartbeat file, and how old one may be and still count as alive. */
const BEAT_MS = 5000
const ALIVE_MS = 3 * BEAT_MS
/** How long to wait for answers to a ping. */
const LISTEN_MS = 1000

const nodesDir = (dataDir: string) => path.join(dataDir, 'nodes')

/** Makes this node visible to `otherNodes` until the returned function runs. */
export async function announce(bus: Bus, dataDir: string, nodeId: string): Promise<() => Promise<void>> {
  const unsubscribe = await bus.subscribe(PING, (asker) => bus.publish(PONG, JSON.stringify({ asker, node: nodeId })))
  const file = path.join(nodesDir(dataDir), nodeId)
  let beat: NodeJS.Timeout | undefined
  try {
    mkdirSync(nodesDir(dataDir), { recursive: true })
    writeFileSync(file, `${process.pid}\n`)
    beat = setInterval(() => {
      try {
        const now = new Date()
        utimesSync(file, now, now)
      } catch {
        // the data folder went away: nothing to announce
      }
    }, BEAT_MS)
    beat.unref()
  } catch {
    // a read-only data folder: the bus still answers
  }
  return async () => {
    clearInterval(beat)
    rmSync(file, { force: true })
    await unsubscribe()
  }
}

/** The ids of serving nodes other than `selfId`: those answering on the bus, and fresh heartbeat files. */
export async function otherNodes(bus: Bus, dataDir: string, selfId?: string): Promise<string[]> {
  const found = new Set<string>()
  const asker = `${process.pid}-${Math.random().toString(36).slice(2)}`
  const unsubscribe = await bus.subscribe(PONG, (message) => {
    try {
      const m = JSON.parse(message) as { asker?: string; node?: string }
      if (m.asker === asker && m.node && m.node !== selfId) found.add(m.node)
    } catch {
      // not ours
    }
  })
  try {
    await bus.publish(PING, asker)
    await new Promise((r) => setTimeout(r, LISTEN_MS))
  } finally {
    await unsubscribe()
  }
  let files: string[] = []
  try {
    files = readdirSync(nodesDir(dataDir))
  } catch {
    // no folder: no node ever served from this data folder
  }
  for (const name of files) {
    if (name === selfId) continue
    try {
      if (Date.now() - statSync(path.join(nodesDir(dataDir), name)).mtimeMs < ALIVE_MS) found.add(name)
    } catch {
      // removed meanwhile
    }
  }
  return [...found].sort()
}
