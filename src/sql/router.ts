import { CompiledQuery } from 'kysely'
import { currentClient } from './client-reads.ts'
import { SqlUnavailableError } from './errors.ts'
import { LagClock } from './lag.ts'
import type { SqlEngine, SqlRole } from './sql.ts'

/** One database instance behind the router, and what its last probe found. */
export interface SqlInstance {
  readonly engine: SqlEngine
  /** Its URL as configured (with its password): how `switch-primary` names it. */
  readonly url: string
  /** Its role now (a promoted replica becomes `primary`; the old primary `retired`). */
  role: SqlRole | 'retired'
  /** False once a probe or a statement found it unreachable, until a probe succeeds again. */
  up: boolean
  /** Its replication position at the last probe (primary: written; others: applied). */
  position?: number
  /** Replicas and DR: the measured lag (ms) at the last probe; 0 for the primary. */
  lagMs: number
  /** Why the last probe failed. */
  error?: string
}

export interface SqlRouterOptions {
  /** Replicas lagging more than this (ms) get no reads (`dbMaxReplicaLag`). */
  maxReplicaLag: number
  /** How often positions and reachability are probed (ms). */
  probeMs?: number
  /** Told when the primary changes state (up/down, switched), for logs. */
  onChange?: (event: string, instance: SqlInstance) => void
}

/** An instance the router is given: its engine and the URL it was opened from. */
export interface SqlMember {
  engine: SqlEngine
  url: string
}

/**
 * Routes SQL work to instances by role. Features call `writer()` for writes and transactions and
 * `reader()` for reads; neither knows whether replicas exist.
 *
 * - Writes go to the primary. While the primary is known to be unreachable, `writer()` throws a
 *   SqlUnavailableError at once (a 503 with the code `unavailable`), so nothing waits on a dead
 *   server and nothing is half-written (a write is one transaction on one server).
 * - Reads go round-robin to the replicas that answer and lag under `maxReplicaLag`, else to the
 *   primary. Work for a client that has written (client-reads.ts) only goes to a replica that has
 *   applied the position its last write reached; within the request that wrote, to the primary.
 * - With the primary down, reads go to the replica that has applied the most, whatever its lag.
 *
 * A probe every `probeMs` reads each instance's replication position (lag.ts measures lag from
 * them); an instance whose statement fails as unreachable is marked down at once and probed again
 * soon. `switchPrimary` moves writes to another configured instance that an operator promoted.
 */
export class SqlRouter {
  readonly #members: SqlInstance[]
  readonly #lag: LagClock
  readonly #opts: Required<Omit<SqlRouterOptions, 'onChange'>> & Pick<SqlRouterOptions, 'onChange'>
  #next = 0
  #timer: NodeJS.Timeout | undefined
  #probing: Promise<void> | undefined
  #closed = false

  constructor(primary: SqlEngine | SqlMember, replicas: SqlMember[] = [], dr?: SqlMember, opts: SqlRouterOptions = { maxReplicaLag: 1000 }) {
    const first = 'engine' in primary ? primary : { engine: primary, url: '' }
    const member = (m: SqlMember, role: SqlRole): SqlInstance => ({ ...m, role, up: true, lagMs: role === 'primary' ? 0 : Infinity })
    this.#members = [member(first, 'primary'), ...replicas.map((r) => member(r, 'replica')), ...(dr ? [member(dr, 'dr')] : [])]
    this.#opts = { probeMs: Math.max(20, Math.min(250, Math.floor(opts.maxReplicaLag / 4))), ...opts }
    // A replica further behind than many lag bounds is simply "far behind": older samples are not kept.
    this.#lag = new LagClock(Math.max(60_000, opts.maxReplicaLag * 10))
  }

  /** The instance writes go to now. */
  get primary(): SqlEngine {
    return this.#primaryInstance().engine
  }

  /**
   * An engine that is always the primary of the moment: for holders that keep one engine for
   * their life (the collection store), so a `switchPrimary` reaches them too.
   */
  primaryHandle(): SqlEngine {
    const now = () => this.#primaryInstance().engine
    return {
      get name() { return now().name },
      get role() { return now().role },
      get db() { return now().db },
      get dialect() { return now().dialect },
      get capabilities() { return now().capabilities },
      query: (compiled) => now().query(compiled),
      ping: () => now().ping(),
      poolStats: () => now().poolStats(),
      withoutStatementTimeout: (fn) => now().withoutStatementTimeout(fn),
      // The router closes its engines; a holder must not close the primary under it.
      close: async () => {},
    }
  }

  /** True when there is more than the primary to route between. */
  get replicated(): boolean {
    return this.#members.length > 1
  }

  /** The instances and their state at the last probe (for `db status` and `/api/ready`). */
  instances(): readonly SqlInstance[] {
    return this.#members
  }

  /** The primary for a write or a transaction; throws SqlUnavailableError while it is down. */
  writer(): SqlEngine {
    const p = this.#primaryInstance()
    if (!p.up) throw new SqlUnavailableError('database unavailable: the primary is not answering, so writes are refused until it is back')
    return p.engine
  }

  /**
   * The primary while it answers, else a replica: for reads that must not be stale when they can
   * help it (a token checked against its password's key) but must keep working in an outage.
   */
  freshest(): SqlEngine {
    const p = this.#primaryInstance()
    return p.up ? p.engine : this.reader()
  }

  /** Where a read goes now (see the class comment). */
  reader(): SqlEngine {
    const primary = this.#primaryInstance()
    const replicas = this.#members.filter((m) => m.role === 'replica')
    if (!replicas.length) return primary.engine
    const client = currentClient()
    if (client?.wrote && primary.up) return primary.engine
    const need = client?.minPosition ?? 0
    const n = replicas.length
    for (let i = 0; i < n; i++) {
      const m = replicas[(this.#next + i) % n]!
      if (m.up && m.lagMs <= this.#opts.maxReplicaLag && (m.position ?? -1) >= need) {
        this.#next = (this.#next + i + 1) % n
        return m.engine
      }
    }
    if (primary.up) return primary.engine
    let best: SqlInstance | undefined
    for (const m of replicas) if (m.up && (!best || (m.position ?? -1) > (best.position ?? -1))) best = m
    return (best ?? primary).engine
  }

  /** Every engine, for closing and readiness. */
  engines(): SqlEngine[] {
    return this.#members.map((m) => m.engine)
  }

  /** Marks the current work's client as having written now: its reads in this request go to the primary. */
  noteWrite(): void {
    const client = currentClient()
    if (client) client.wrote = true
  }

  /** The primary's replication position now (read after a commit: it covers that commit); undefined without one. */
  async primaryPosition(): Promise<number | undefined> {
    const pos = await this.#position(this.#primaryInstance(), 'primaryPosition')
    if (pos !== undefined) this.#lag.sample(Date.now(), pos)
    return pos
  }

  /** Called when an engine met an unreachable server: marks it down and probes again soon. */
  suspect(engine: SqlEngine): void {
    const m = this.#members.find((x) => x.engine === engine)
    if (!m || !m.up) return
    m.up = false
    if (m.role === 'primary') this.#opts.onChange?.('primary unreachable', m)
    void this.probe()
  }

  /** Starts probing every `probeMs` (only when there are replicas or a DR instance to watch). */
  start(): void {
    if (this.#timer || !this.replicated) return
    const tick = () => {
      this.#timer = setTimeout(() => void this.probe().finally(() => !this.#closed && tick()), this.#opts.probeMs)
      this.#timer.unref()
    }
    void this.probe()
    tick()
  }

  /** Probes every instance once (one probe at a time; a caller during one gets that one). */
  probe(): Promise<void> {
    return (this.#probing ??= this.#probeAll().finally(() => (this.#probing = undefined)))
  }

  async #probeAll(): Promise<void> {
    const primary = this.#primaryInstance()
    // The primary first: a replica's lag is measured against what the primary held just before.
    await this.#probeOne(primary)
    await Promise.all(this.#members.filter((m) => m !== primary && m.role !== 'retired').map((m) => this.#probeOne(m)))
  }

  async #probeOne(m: SqlInstance): Promise<void> {
    const wasUp = m.up
    try {
      const primary = m.role === 'primary'
      const pos = await this.#position(m, primary ? 'primaryPosition' : 'appliedPosition')
      const now = Date.now()
      m.position = pos
      m.up = true
      m.error = undefined
      if (primary) {
        if (pos !== undefined) this.#lag.sample(now, pos)
        m.lagMs = 0
      } else {
        m.lagMs = pos === undefined ? Infinity : this.#lag.lagOf(pos, now)
      }
    } catch (err) {
      m.up = false
      m.error = (err as Error).message
    }
    if (m.role === 'primary' && wasUp !== m.up) this.#opts.onChange?.(m.up ? 'primary answering again' : 'primary unreachable', m)
  }

  /** One replication-position statement on `m`, bounded by the probe's own timeout. */
  async #position(m: SqlInstance, which: 'primaryPosition' | 'appliedPosition'): Promise<number | undefined> {
    const repl = m.engine.dialect.replication
    if (!repl) return undefined
    const rows = await withTimeout(m.engine.query<{ pos: unknown }>(CompiledQuery.raw(repl[which])), Math.max(1000, this.#opts.probeMs * 4))
    return repl.parse(rows[0]?.pos)
  }

  /**
   * Sends writes to the configured instance at `url` from now on (an operator has promoted it).
   * The old primary is retired: no more reads or writes go there. Throws when `url` is not one
   * of this node's instances; a no-op when it already is the primary.
   */
  switchPrimary(url: string): SqlInstance {
    const target = this.#members.find((m) => sameUrl(m.url, url))
    if (!target) throw new Error(`db: ${url} is not one of this node's database instances (db, dbReplicas, dbDr)`)
    if (target.role === 'primary') return target
    const old = this.#primaryInstance()
    old.role = 'retired'
    target.role = 'primary'
    target.lagMs = 0
    target.up = true
    this.#opts.onChange?.('primary switched', target)
    void this.probe()
    return target
  }

  /**
   * Adds a configured instance while running (a SIGHUP reload, sql/reload.ts): a replica gets
   * reads once a probe has measured it; a `dr` instance is only watched (or switched to).
   */
  addInstance(m: SqlMember, role: 'replica' | 'dr'): void {
    this.#members.push({ ...m, role, up: true, lagMs: Infinity })
    this.start()
  }

  /** Takes a replica or DR instance out (no more reads from now on); the caller closes its engine. */
  removeInstance(url: string): SqlInstance | undefined {
    const i = this.#members.findIndex((m) => m.role !== 'primary' && sameUrl(m.url, url))
    return i < 0 ? undefined : this.#members.splice(i, 1)[0]
  }

  #primaryInstance(): SqlInstance {
    return this.#members.find((m) => m.role === 'primary')!
  }

  async close(): Promise<void> {
    this.#closed = true
    clearTimeout(this.#timer)
    await this.#probing?.catch(() => undefined)
    await Promise.all(this.engines().map((e) => e.close()))
  }
}

/** Two database URLs name the same instance (scheme aliases and trailing slashes aside). */
export function sameUrl(a: string, b: string): boolean {
  const norm = (u: string) => u.trim().replace(/^mariadb:/i, 'mysql:').replace(/^postgresql:/i, 'postgres:').replace(/\/+$/, '')
  return norm(a) === norm(b)
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer in ${ms} ms`)), ms)
    }),
  ]).finally(() => clearTimeout(timer))
}
