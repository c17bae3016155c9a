import type { LogEvent } from 'kysely'
import type { QueryObserver } from './sql.ts'

/** Kysely's `log` option, feeding query durations to an observer (metrics). */
export function kyselyLog(onQuery?: QueryObserver): ((event: LogEvent) => void) | undefined {
  if (!onQuery) return undefined
  return (event) => onQuery(event.queryDurationMillis, event.level === 'error')
}
