import { toDbDate } from '../model.ts'

/**
 * Datetime macros, evaluated in UTC at compile time. Date macros give PocketBase's date form
 * (`YYYY-MM-DD HH:MM:SS.sssZ`, which sorts as time); the part macros give numbers.
 */
export function macroValue(name: string, now = new Date()): string | number | undefined {
  const y = now.getUTCFullYear()
  const m = now.getUTCMonth()
  const d = now.getUTCDate()
  const at = (...parts: [number, number, number, number?, number?, number?, number?]) => toDbDate(new Date(Date.UTC(...parts)))
  switch (name) {
    case '@now':
      return toDbDate(now)
    case '@second':
      return now.getUTCSeconds()
    case '@minute':
      return now.getUTCMinutes()
    case '@hour':
      return now.getUTCHours()
    case '@weekday':
      return now.getUTCDay()
    case '@day':
      return d
    case '@month':
      return m + 1
    case '@year':
      return y
    case '@yesterday':
      return toDbDate(new Date(now.getTime() - 86_400_000))
    case '@tomorrow':
      return toDbDate(new Date(now.getTime() + 86_400_000))
    case '@todayStart':
      return at(y, m, d)
    case '@todayEnd':
      return at(y, m, d, 23, 59, 59, 999)
    case '@monthStart':
      return at(y, m, 1)
    case '@monthEnd':
      return at(y, m + 1, 0, 23, 59, 59, 999)
    case '@yearStart':
      return at(y, 0, 1)
    case '@yearEnd':
      return at(y, 11, 31, 23, 59, 59, 999)
    default:
      return undefined
  }
}
