// The bench references' database access: the driver used directly, one `query(text, params)` over
// better-sqlite3 (statements prepared once), a pg pool or a mysql2 pool (10 connections each, as
// Plinth's default pool). `$1`-style placeholders are written once and turned into `?` where the
// driver wants those. Usage: `const { query, engine } = await openDb(ENGINE, DB_URL)`.

/** @returns {Promise<{ engine: string, query: (text: string, params?: unknown[]) => Promise<any[]>, run: (text: string, params?: unknown[]) => Promise<void> }>} */
export async function openDb(engine, dbUrl) {
  if (engine === 'sqlite') {
    const { default: Database } = await import('better-sqlite3')
    const db = new Database(dbUrl.replace(/^sqlite:\/\//, ''))
    db.pragma('journal_mode = WAL')
    db.pragma('busy_timeout = 5000')
    const cache = new Map()
    const prepared = (text) => {
      let stmt = cache.get(text)
      if (!stmt) cache.set(text, (stmt = db.prepare(text.replace(/\$\d+/g, '?'))))
      return stmt
    }
    return {
      engine,
      query: async (text, params = []) => prepared(text).all(...params),
      run: async (text, params = []) => void prepared(text).run(...params),
    }
  }
  if (engine === 'postgres') {
    const { default: pg } = await import('pg')
    const pool = new pg.Pool({ connectionString: dbUrl, max: 10 })
    return { engine, query: async (text, params) => (await pool.query(text, params)).rows, run: async (text, params) => void (await pool.query(text, params)) }
  }
  const { createPool } = await import('mysql2/promise')
  const pool = createPool({ uri: dbUrl, connectionLimit: 10 })
  const mysqlText = (text) => text.replace(/\$\d+/g, '?')
  return {
    engine,
    // `query`, not `execute`: Kysely's MySQL driver (Plinth's) sends parameters the same way.
    query: async (text, params) => (await pool.query(mysqlText(text), params))[0],
    run: async (text, params) => void (await pool.query(mysqlText(text), params)),
  }
}

/** Starts `app` on 127.0.0.1:PORT and closes it on SIGTERM/SIGINT. */
export async function listen(app, port) {
  app.get('/api/health', async () => ({ code: 200 }))
  await app.listen({ host: '127.0.0.1', port: Number(port) })
  const stop = () => app.close().then(() => process.exit(0))
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
}
