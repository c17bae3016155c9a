import type { SqlEngine } from './sql.ts'

/**
 * Routes SQL work to engines by role. Features call `writer()` for writes and transactions and
 * `reader()` for reads, so read replicas can be added behind this class without touching them.
 * Today there is only the primary: replicas, lag bounds and DR promotion are not built yet, and
 * the configuration rejects their keys rather than ignoring them.
 */
export class SqlRouter {
  constructor(readonly primary: SqlEngine) {}

  writer(): SqlEngine {
    return this.primary
  }

  reader(): SqlEngine {
    return this.primary
  }

  engines(): SqlEngine[] {
    return [this.primary]
  }

  async close(): Promise<void> {
    await Promise.all(this.engines().map((e) => e.close()))
  }
}
