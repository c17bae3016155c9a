import { ApiError } from '../errors.ts'

/**
 * The `fields` query parameter: `id,title,expand.author.name,description:excerpt(200,true)`,
 * with `*` for every key at a level. Applied to the response JSON after everything else.
 */
interface Pick {
  all: boolean
  keys: Map<string, Pick>
  excerpt?: { max: number; ellipsis: boolean }
}

const node = (): Pick => ({ all: false, keys: new Map() })

export function parseFields(param: string): Pick | undefined {
  const trimmed = param.trim()
  if (!trimmed) return undefined
  const root = node()
  for (const raw of trimmed.split(/,(?![^(]*\))/)) {
    const item = raw.trim()
    if (!item) continue
    const m = /^([\w.*@]+)(?::excerpt\((\d+)(?:\s*,\s*(true|false))?\))?$/.exec(item)
    if (!m) throw new ApiError('bad_request', `Invalid fields parameter near "${item}".`)
    let cur = root
    const parts = m[1]!.split('.')
    for (const [i, part] of parts.entries()) {
      if (part === '*') {
        cur.all = true
        break
      }
      let next = cur.keys.get(part)
      if (!next) cur.keys.set(part, (next = node()))
      if (i === parts.length - 1) {
        next.all = next.all || !m[2]
        if (m[2]) next.excerpt = { max: Number(m[2]), ellipsis: m[3] === 'true' }
      }
      cur = next
    }
  }
  return root
}

/** Plain text of at most `max` characters from HTML, like PocketBase's excerpt modifier. */
export function excerpt(value: string, max: number, ellipsis: boolean): string {
  const text = value.replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').trim()
  if (text.length <= max) return text
  return text.slice(0, max).trimEnd() + (ellipsis ? '...' : '')
}

function apply(value: unknown, pick: Pick): unknown {
  if (pick.excerpt && typeof value === 'string') return excerpt(value, pick.excerpt.max, pick.excerpt.ellipsis)
  if (Array.isArray(value)) return value.map((v) => apply(v, pick))
  if (!value || typeof value !== 'object') return value
  if (pick.all && pick.keys.size === 0) return value
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(value)) {
    const sub = pick.keys.get(k)
    if (sub) out[k] = apply(v, sub)
    else if (pick.all) out[k] = v
  }
  return out
}

export function pickFields<T>(value: T, pick: Pick | undefined): T {
  return pick ? (apply(value, pick) as T) : value
}
