import { CronExpressionParser } from 'cron-parser'

/**
 * Cron expressions (five fields, or six with seconds first), parsed by cron-parser in the
 * process's time zone. Only the schedule lives here; `jobs.ts` fires each tick once across nodes.
 */

/** The first tick strictly after `after` (epoch ms); throws a clear error for a bad expression. */
export function nextTick(expression: string, after: number): number {
  return CronExpressionParser.parse(expression, { currentDate: new Date(after) }).next().getTime()
}

/** Throws `cron <name>: ...` when `expression` does not parse. */
export function checkCron(name: string, expression: string): void {
  try {
    nextTick(expression, Date.now())
  } catch (err) {
    throw new Error(`cron ${name}: invalid expression "${expression}": ${(err as Error).message}`, { cause: err })
  }
}
