import path from 'node:path'
import { ConfigError } from './errors.ts'

export type SqlEngineName = 'sqlite' | 'postgres' | 'mysql'

export interface SqliteTarget {
  engine: 'sqlite'
  /** An absolute file path, or `:memory:`. */
  file: string
}
export interface ServerTarget {
  engine: 'postgres' | 'mysql'
  /** The URL as given; the driver parses it. */
  url: string
  database: string
}
export type DbTarget = SqliteTarget | ServerTarget

/**
 * Parses a SQL URL and picks its engine by scheme: `sqlite://PATH` (relative paths resolve
 * against `cwd`), `postgres://` / `postgresql://`, `mysql://` / `mariadb://`.
 */
export function parseDbUrl(value: string, key: string, cwd = process.cwd()): DbTarget {
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(value)?.[1]?.toLowerCase()
  if (scheme === 'sqlite') {
    const rest = value.slice('sqlite:'.length).replace(/^\/\//, '')
    if (!rest) throw new ConfigError(`config: ${key}: sqlite URL needs a path, like sqlite://./plinth_data/data.db`)
    return { engine: 'sqlite', file: rest === ':memory:' ? rest : path.resolve(cwd, rest) }
  }
  if (scheme === 'postgres' || scheme === 'postgresql' || scheme === 'mysql' || scheme === 'mariadb') {
    let url: URL
    try {
      url = new URL(value)
    } catch {
      throw new ConfigError(`config: ${key}: malformed URL "${value.replace(/:[^:@/]*@/, ':****@')}"`)
    }
    const database = decodeURIComponent(url.pathname.replace(/^\//, ''))
    if (!url.hostname) throw new ConfigError(`config: ${key}: URL needs a host`)
    if (!database) throw new ConfigError(`config: ${key}: URL needs a database name after the host`)
    const engine = scheme.startsWith('postgres') ? 'postgres' : 'mysql'
    // mysql2 only knows the mysql: scheme.
    return { engine, url: scheme === 'mariadb' ? value.replace(/^mariadb:/i, 'mysql:') : value, database }
  }
  throw new ConfigError(
    `config: ${key}: unsupported scheme "${scheme ?? value}" (expected sqlite://, postgres:// or mysql://)`,
  )
}
