/**
 * Realtime (#10), measured by the scenarios themselves (no autocannon): a real `plinth serve`
 * (logs at warn) in its own process, the SSE clients in the bench's.
 * - realtime-idle: the memory 10,000 streams that subscribed to nothing cost the server, per
 *   stream, beyond a warmed-up baseline (resident memory from /proc, and V8 heap in use from the
 *   node's own metrics; GC timing adds noise to both), against a 10 KB budget;
 * - realtime-fanout: one created record delivered to 1,000 subscribers, timed from the create
 *   request's start to the last receipt, p50 and p99 over 50 writes; with a rule on the record's
 *   own fields (decided in memory) and one that follows a relation (a join: SQL);
 * - realtime-nodes: the same own-field fan-out on PostgreSQL, subscribers on the writing node
 *   against subscribers on a second node (every event crosses Redis).
 */
import { dropDatabases, freshDb, unavailable } from '../lib/seed.ts'
import { fanOut, heapUsed, openMany, redisUnavailable, rss, sleep, startNode, type Node } from '../lib/realtime.ts'
import type { Figure, MeasuredScenario } from '../lib/types.ts'

const IDLE_STREAMS = 10_000
const SUBSCRIBERS = 1_000
const WRITES = 50
const BUDGET_BYTES = 10 * 1024

const OWN_RULE = 'owner = @request.headers.x_user || shared = true'
const JOIN_RULE = 'owner.name = @request.headers.x_user || owner.name = "everyone"'
const ITEM_FIELDS = [
  { name: 'title', type: 'text' },
  { name: 'owner', type: 'text' },
  { name: 'shared', type: 'bool' },
]
/** Every write is shared, so it reaches every subscriber (each still a rule check of its own). */
const sharedItem = (w: number) => ({ title: `w${w}`, owner: 'nobody', shared: true })

async function withNode<T>(fn: (node: Node) => Promise<T>): Promise<T> {
  const node = await startNode(await freshDb('sqlite'))
  try {
    return await fn(node)
  } finally {
    await node.server.stop()
    await dropDatabases()
  }
}

const idle: MeasuredScenario = {
  name: 'realtime-idle',
  group: 'realtime',
  description: `memory of ${IDLE_STREAMS.toLocaleString('en-US')} idle SSE streams (no subscriptions), SQLite`,
  measure: () =>
    withNode(async (node) => {
      const pid = node.server.pid!
      const warm = await openMany(node.server.url, 100)
      for (const s of warm) s.close()
      await sleep(1000)
      const [rssBefore, heapBefore] = [rss(pid), await heapUsed(node)]
      const streams = await openMany(node.server.url, IDLE_STREAMS)
      await sleep(2000)
      const [rssAfter, heapAfter] = [rss(pid), await heapUsed(node)]
      for (const s of streams) s.close()
      await sleep(1000)
      const MiB = 2 ** 20
      return [
        { name: 'budget per stream', value: BUDGET_BYTES, unit: 'bytes', notes: 'the aim (#10)' },
        { name: 'RSS per stream', value: (rssAfter - rssBefore) / IDLE_STREAMS, unit: 'bytes', reference: 'budget per stream' },
        { name: 'heap per stream', value: (heapAfter - heapBefore) / IDLE_STREAMS, unit: 'bytes', reference: 'budget per stream' },
        { name: 'RSS baseline', value: rssBefore / MiB, unit: 'MiB', notes: 'after 100 streams opened and closed' },
        { name: `RSS, ${IDLE_STREAMS} streams`, value: rssAfter / MiB, unit: 'MiB', reference: 'RSS baseline' },
        { name: 'heap baseline', value: heapBefore / MiB, unit: 'MiB' },
        { name: `heap, ${IDLE_STREAMS} streams`, value: heapAfter / MiB, unit: 'MiB', reference: 'heap baseline' },
      ] satisfies Figure[]
    }),
}

const fanout: MeasuredScenario = {
  name: 'realtime-fanout',
  group: 'realtime',
  description: `a create delivered to ${SUBSCRIBERS.toLocaleString('en-US')} subscribers (write start to last receipt, ${WRITES} writes), SQLite`,
  measure: () =>
    withNode(async (node) => {
      const { admin } = node
      await admin.call('POST', '/api/collections', { name: 'rt_items', listRule: OWN_RULE, fields: ITEM_FIELDS })
      const people = await admin.call<{ id: string }>('POST', '/api/collections', { name: 'rt_people', fields: [{ name: 'name', type: 'text' }] })
      await admin.call('POST', '/api/collections', {
        name: 'rt_jitems',
        listRule: JOIN_RULE,
        fields: [{ name: 'title', type: 'text' }, { name: 'owner', type: 'relation', collectionId: people.id, maxSelect: 1 }],
      })
      const everyone = await admin.call<{ id: string }>('POST', '/api/collections/rt_people/records', { name: 'everyone' })
      const base = { writer: admin, subscribeOn: node.server.url, subscribers: SUBSCRIBERS, writes: WRITES }
      const own = await fanOut({ ...base, collection: 'rt_items', body: sharedItem })
      const join = await fanOut({ ...base, collection: 'rt_jitems', body: (w) => ({ title: `w${w}`, owner: everyone.id }) })
      return [
        { name: 'own-field rule p50', value: own.p50, unit: 'ms', notes: `\`${OWN_RULE}\`` },
        { name: 'own-field rule p99', value: own.p99, unit: 'ms' },
        { name: 'join rule p50', value: join.p50, unit: 'ms', reference: 'own-field rule p50', notes: `\`${JOIN_RULE}\`` },
        { name: 'join rule p99', value: join.p99, unit: 'ms', reference: 'own-field rule p99' },
      ] satisfies Figure[]
    }),
}

const nodes: MeasuredScenario = {
  name: 'realtime-nodes',
  group: 'realtime',
  description: `a create delivered to ${SUBSCRIBERS.toLocaleString('en-US')} subscribers, own-field rule, PostgreSQL: on the writing node against on a second node through Redis`,
  skip: async () => (await unavailable('postgres')) ?? (await redisUnavailable()),
  async measure() {
    const db = await freshDb('postgres')
    const env = { PLINTH_REDIS: `redis://127.0.0.1:6379/14?prefix=plinth-bench-rt-${process.pid}:` }
    const a = await startNode(db, env)
    let b: Node | undefined
    try {
      b = await startNode(db, env, false)
      await a.admin.call('POST', '/api/collections', { name: 'rt_items', listRule: OWN_RULE, fields: ITEM_FIELDS })
      while ((await fetch(`${b.server.url}/api/collections/rt_items/records`)).status !== 200) await sleep(50)
      const base = { writer: a.admin, collection: 'rt_items', subscribers: SUBSCRIBERS, writes: WRITES, body: sharedItem }
      const one = await fanOut({ ...base, subscribeOn: a.server.url })
      const two = await fanOut({ ...base, subscribeOn: b.server.url })
      return [
        { name: 'one node p50', value: one.p50, unit: 'ms', notes: 'writes and subscribers on one node' },
        { name: 'one node p99', value: one.p99, unit: 'ms' },
        { name: 'two nodes p50', value: two.p50, unit: 'ms', reference: 'one node p50', notes: 'writes on one node, subscribers on the other' },
        { name: 'two nodes p99', value: two.p99, unit: 'ms', reference: 'one node p99' },
      ] satisfies Figure[]
    } finally {
      await b?.server.stop()
      await a.server.stop()
      await dropDatabases()
    }
  },
}

export default [idle, fanout, nodes]
