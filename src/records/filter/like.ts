/**
 * PocketBase's `~` (LIKE) patterns, parsed once into pieces that both the SQL renderer and the
 * in-process matcher use, so a folded comparison and one sent to SQL cannot disagree.
 *
 * PocketBase's rule for a constant right operand: when the value holds an unescaped `%` it is the
 * pattern as written (`\` escapes `%`, `_` and `\`); otherwise every unescaped `%`, `_` and `\`
 * is escaped and the value is wrapped in `%...%` (a "contains" match).
 */

/** A literal run of text, `%` (any run of characters) or `_` (exactly one character). */
export type LikePiece = string | { any: true } | { one: true }

const ANY = { any: true } as const
const ONE = { one: true } as const

/** Whether `s` has `ch` not preceded by an escaping backslash (`\\` escapes itself). */
function hasUnescaped(s: string, ch: string): boolean {
  let escaped = false
  for (const c of s) {
    if (escaped) escaped = false
    else if (c === '\\') escaped = true
    else if (c === ch) return true
  }
  return false
}

/** Parses a LIKE pattern whose escape character is `\`. A trailing lone `\` is a literal `\`. */
export function parseLike(pattern: string): LikePiece[] {
  const out: LikePiece[] = []
  let text = ''
  const flush = () => {
    if (text) out.push(text)
    text = ''
  }
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!
    if (c === '\\' && i + 1 < pattern.length) text += pattern[++i]!
    else if (c === '%') {
      flush()
      // Adjacent `%` are one `%`: keeps the matcher's segment count honest.
      if (out.at(-1) !== ANY) out.push(ANY)
    } else if (c === '_') {
      flush()
      out.push(ONE)
    } else text += c
  }
  flush()
  return out
}

/** The pieces PocketBase matches a constant `~` operand with (see the module comment). */
export function likePieces(value: string): LikePiece[] {
  if (hasUnescaped(value, '%')) return parseLike(value)
  // A contains-match: `\` before `\`, `%` or `_` escapes it; every other character is literal.
  let text = ''
  for (let i = 0; i < value.length; i++) {
    const c = value[i]!
    const next = value[i + 1]
    if (c === '\\' && (next === '\\' || next === '%' || next === '_')) {
      text += next
      i++
    } else text += c
  }
  return text ? [ANY, text, ANY] : [ANY]
}

/** The pieces as a SQL LIKE pattern with `\` as its escape character. */
export function renderLike(pieces: LikePiece[]): string {
  return pieces.map((p) => (typeof p === 'string' ? p.replace(/[\\%_]/g, (c) => `\\${c}`) : 'any' in p ? '%' : '_')).join('')
}

/**
 * Splits the pieces into segments separated by `%`: each segment is a list of literal characters
 * or `null` for `_` (one code point).
 */
function segments(pieces: LikePiece[]): { segs: (string | null)[][]; anchoredStart: boolean; anchoredEnd: boolean } {
  const segs: (string | null)[][] = [[]]
  for (const p of pieces) {
    if (typeof p === 'string') segs.at(-1)!.push(...p)
    else if ('one' in p) segs.at(-1)!.push(null)
    else segs.push([])
  }
  return { segs, anchoredStart: pieces[0] !== ANY, anchoredEnd: pieces.at(-1) !== ANY }
}

function matchesAt(text: string[], at: number, seg: (string | null)[]): boolean {
  if (at + seg.length > text.length) return false
  for (let k = 0; k < seg.length; k++) {
    const s = seg[k]
    if (s !== null && s !== text[at + k]) return false
  }
  return true
}

/** The first position at or after `from` where `seg` matches, or -1. */
function findFrom(text: string[], from: number, seg: (string | null)[]): number {
  for (let at = from; at + seg.length <= text.length; at++) if (matchesAt(text, at, seg)) return at
  return -1
}

/**
 * Whether `value` matches the pieces, case-insensitively (as `lower(a) LIKE lower(b)`).
 * NB: never a backtracking regular expression: a hostile pattern like `%a%a%a...%b` over a long
 * text made one take minutes. Between `%`s the leftmost match of each segment is always safe to
 * take (a later one leaves less text for the rest), so one left-to-right pass decides; the cost
 * is at most text length times pattern length, with no backtracking across segments.
 */
export function likeMatch(value: string, pieces: LikePiece[]): boolean {
  const text = [...value.toLowerCase()]
  const { segs, anchoredStart, anchoredEnd } = segments(pieces.map((p) => (typeof p === 'string' ? p.toLowerCase() : p)))
  if (segs.length === 1) return text.length === segs[0]!.length && matchesAt(text, 0, segs[0]!)
  const first = segs[0]!
  const last = segs.at(-1)!
  let pos = 0
  if (anchoredStart) {
    if (!matchesAt(text, 0, first)) return false
    pos = first.length
  }
  let end = text.length
  if (anchoredEnd) {
    end = text.length - last.length
    if (end < pos || !matchesAt(text, end, last)) return false
  }
  const view = text.slice(0, end)
  for (const seg of segs.slice(1, -1)) {
    const at = findFrom(view, pos, seg)
    if (at < 0) return false
    pos = at + seg.length
  }
  return true
}
