#!/usr/bin/env node
// Plinth runs its TypeScript sources (and app modules) directly: tsx compiles them on load.
import { register } from 'tsx/esm/api'

// The plain-JavaScript dependencies on the start-up path load before tsx's hooks are in place:
// through the hooks every one of their hundreds of files costs a round trip to the loader thread,
// which took `plinth serve` from ~1.4 s to ~2.2 s before /api/health answered. Later imports of
// the same packages hit Node's module cache. Optional engines (pg, mysql2, nodemailer) still load lazily.
await Promise.all(
  ['fastify', 'kysely', 'pino', 'prom-client', '@sinclair/typebox', '@sinclair/typebox/value', 'yaml', 'better-sqlite3'].map(
    (m) => import(m),
  ),
)

register()
await import('../src/cli/main.ts')
