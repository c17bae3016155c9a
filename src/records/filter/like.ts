import { filterError } from './lexer.ts'

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

/**
 * The most character comparisons one match may make. Legitimate filters stay far below (a 3500
 * character filter costs at most a few million); a huge request value meeting a huge pattern gets
 * a 400 instead of holding the event loop.
 */
export const LIKE_BUDGET = 20_000_000

class Budget {
  left = LIKE_BUDGET
  spend(n: number): void {
    this.left -= n
    if (this.left < 0) throw filterError('a ~ comparison of these values is too costly to evaluate')
  }
}

function matchesAt(text: string[], at: number, seg: (string | null)[], budget: Budget): boolean {
  if (at + seg.length > text.length) return false
  let k = 0
  for (; k < seg.length; k++) {
    const s = seg[k]
    if (s !== null && s !== text[at + k]) break
  }
  budget.spend(k + 1)
  return k === seg.length
}

/** The first position at or after `from` where `seg` matches, or -1. */
function findFrom(text: string[], from: number, seg: (string | null)[], budget: Budget): number {
  for (let at = from; at + seg.length <= text.length; at++) if (matchesAt(text, at, seg, budget)) return at
  return -1
}

export function likeMatch(value: string, pieces: LikePiece[]): boolean {
  const budget = new Budget()
  const text = [...value.toLowerCase()]
  const { segs, anchoredStart, anchoredEnd } = segments(pieces.map((p) => (typeof p === 'string' ? p.toLowerCase() : p)))
  if (segs.length === 1) return text.length === segs[0]!.length && matchesAt(text, 0, segs[0]!, budget)
  const first = segs[0]!
  const last = segs.at(-1)!
  let pos = 0
  if (anchoredStart) {
    if (!matchesAt(text, 0, first, budget)) return false
    pos = first.length
  }
  let end = text.length
  if (anchoredEnd) {
    end = text.length - last.length
    if (end < pos || !matchesAt(text, end, last, budget)) return false
  }
  const view = text.slice(0, end)
  for (const seg of segs.slice(1, -1)) {
    const at = findFrom(view, pos, seg, budget)
    if (at < 0) return false
    pos = at + seg.length
  }
  return true
}
