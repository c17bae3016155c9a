import { randomFillSync, randomInt } from 'node:crypto'

/**
 * Crypto-random strings: record ids, token keys, auth secrets, and values generated from a
 * field's `autogeneratePattern`.
 */

export const ID_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789'
const SECRET_ALPHABET = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'

/**
 * Random bytes handed out from a pooled buffer: one `randomFillSync` per 4 KiB instead of a
 * call (and an allocation) per string. NB: each byte is used once; nothing is reused.
 */
const pool = Buffer.alloc(4096)
let poolAt = pool.length

function randomByte(): number {
  if (poolAt === pool.length) {
    randomFillSync(pool)
    poolAt = 0
  }
  return pool[poolAt++]!
}

/** `length` characters drawn uniformly from `alphabet` (rejection sampling, no modulo bias). */
export function randomString(length: number, alphabet: string = SECRET_ALPHABET): string {
  let out = ''
  const limit = 256 - (256 % alphabet.length)
  while (out.length < length) {
    const b = randomByte()
    if (b < limit) out += alphabet[b % alphabet.length]
  }
  return out
}

/** A new record id: 15 characters `[a-z0-9]`, PocketBase's default form. */
export function generateRecordId(): string {
  return randomString(15, ID_ALPHABET)
}

/** CRC-32 (IEEE) as a decimal string, as PocketBase uses for default collection and field ids. */
export function crc32Checksum(text: string): string {
  let crc = 0xffffffff
  for (const byte of Buffer.from(text, 'utf8')) {
    crc ^= byte
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1
  }
  return String((crc ^ 0xffffffff) >>> 0)
}

/**
 * A random string matching a simple pattern: literals, escaped characters and `[...]` classes
 * (ranges allowed), each optionally followed by `{n}` or `{n,m}`; `^`/`$` anchors are ignored.
 * Covers the patterns PocketBase uses (`[a-z0-9]{15}`, `[a-zA-Z0-9]{50}`). Throws on anything else.
 */
export function randomFromPattern(pattern: string): string {
  let parts = patterns.get(pattern)
  if (!parts) {
    parts = parsePattern(pattern)
    if (patterns.size >= 100) patterns.delete(patterns.keys().next().value!)
    patterns.set(pattern, parts)
  }
  let out = ''
  for (const p of parts) out += randomString(p.min === p.max ? p.min : randomInt(p.min, p.max + 1), p.chars)
  return out
}

/** One piece of a pattern: `min` to `max` characters from `chars`. */
interface PatternPart {
  chars: string
  min: number
  max: number
}

/** Parsed patterns by text (a handful per schema). */
const patterns = new Map<string, readonly PatternPart[]>()

function parsePattern(pattern: string): PatternPart[] {
  const parts: PatternPart[] = []
  let i = 0
  const src = pattern.replace(/^\^/, '').replace(/\$$/, '')
  while (i < src.length) {
    let chars: string
    const c = src[i]!
    if (c === '[') {
      const end = src.indexOf(']', i + 1)
      if (end < 0) throw new Error(`unclosed [ in pattern ${pattern}`)
      chars = expandClass(src.slice(i + 1, end))
      i = end + 1
    } else if (c === '\\') {
      const next = src[i + 1]
      if (next === undefined) throw new Error(`trailing \\ in pattern ${pattern}`)
      chars = next === 'd' ? '0123456789' : next === 'w' ? SECRET_ALPHABET + '_' : next
      i += 2
    } else if ('()|*+?.{}'.includes(c)) {
      throw new Error(`unsupported pattern syntax "${c}" in ${pattern}`)
    } else {
      chars = c
      i += 1
    }
    let min = 1
    let max = 1
    const rep = /^\{(\d+)(?:,(\d+))?\}/.exec(src.slice(i))
    if (rep) {
      min = Number(rep[1])
      max = rep[2] === undefined ? min : Number(rep[2])
      if (max < min) throw new Error(`bad repetition in pattern ${pattern}`)
      i += rep[0].length
    }
    parts.push({ chars, min, max })
  }
  return parts
}

function expandClass(body: string): string {
  if (body.startsWith('^')) throw new Error('negated classes are not supported in autogenerate patterns')
  let out = ''
  for (let i = 0; i < body.length; i++) {
    const a = body[i]!
    if (body[i + 1] === '-' && i + 2 < body.length) {
      const b = body[i + 2]!
      for (let code = a.charCodeAt(0); code <= b.charCodeAt(0); code++) out += String.fromCharCode(code)
      i += 2
    } else out += a
  }
  if (!out) throw new Error('empty character class')
  return [...new Set(out)].join('')
}
