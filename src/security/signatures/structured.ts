/**
 * The slice of RFC 8941 Structured Field Values that HTTP Message Signatures need: a Dictionary
 * whose members are Inner Lists of strings with parameters (`Signature-Input`) or Byte Sequences
 * (`Signature`, `Content-Digest`), and the canonical serialisation of an inner list.
 *
 * NB: parsing is strict and bounded (a header longer than MAX_FIELD_LENGTH, or with more than
 * MAX_MEMBERS members or MAX_ITEMS items, is refused): a signature header is attacker input.
 */

/** A bare item as this module knows it: a String, Token, Integer, Boolean or Byte Sequence. */
export type BareItem = string | number | boolean | { token: string } | Uint8Array
export type Params = [string, BareItem][]

export interface InnerList {
  items: { value: BareItem; params: Params }[]
  params: Params
}
export type Member = { value: BareItem; params: Params } | InnerList

export const MAX_FIELD_LENGTH = 8192
const MAX_MEMBERS = 16
export const MAX_ITEMS = 32

export class StructuredFieldError extends Error {}

class Reader {
  pos = 0
  constructor(readonly s: string) {}
  peek(): string {
    return this.s[this.pos] ?? ''
  }
  eof(): boolean {
    return this.pos >= this.s.length
  }
  skipSp(): void {
    while (this.peek() === ' ') this.pos++
  }
  skipOws(): void {
    while (this.peek() === ' ' || this.peek() === '\t') this.pos++
  }
  fail(what: string): never {
    throw new StructuredFieldError(`${what} at ${this.pos}`)
  }
}

// Sticky patterns (matched at `r.pos`, no slicing): every request carries a fresh Signature-Input,
// so this runs once per signed request and a character-at-a-time loop showed in profiles.
const KEY = /[a-z*][a-z0-9_\-.*]*/y
const PLAIN_STRING = /"([\x20\x21\x23-\x5b\x5d-\x7e]*)"/y
const INTEGER = /-?[0-9]{1,15}/y
const TOKEN = /[A-Za-z*][!#$%&'*+\-.^_`|~0-9A-Za-z:/]*/y

/** The match of a sticky `re` at the reader's position, consumed; undefined when none. */
function take(r: Reader, re: RegExp): RegExpExecArray | undefined {
  re.lastIndex = r.pos
  const m = re.exec(r.s)
  if (!m) return undefined
  r.pos += m[0].length
  return m
}

function parseKey(r: Reader): string {
  const m = take(r, KEY)
  if (!m) r.fail('key expected')
  return m[0]
}

function parseBareItem(r: Reader): BareItem {
  const c = r.peek()
  if (c === '"') {
    const plain = take(r, PLAIN_STRING) // no escapes: the common case
    if (plain) return plain[1]!
    r.pos++
    let out = ''
    for (;;) {
      if (r.eof()) r.fail('unterminated string')
      const ch = r.s[r.pos++]!
      if (ch === '\\') {
        const next = r.s[r.pos++]
        if (next !== '"' && next !== '\\') r.fail('bad escape')
        out += next
      } else if (ch === '"') return out
      else if (ch < ' ' || ch > '~') r.fail('bad string character')
      else out += ch
    }
  }
  if (c === ':') {
    r.pos++
    const end = r.s.indexOf(':', r.pos)
    if (end < 0) r.fail('unterminated byte sequence')
    const b64 = r.s.slice(r.pos, end)
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64) || b64.length % 4 !== 0) r.fail('bad base64')
    r.pos = end + 1
    return Buffer.from(b64, 'base64') // a Uint8Array
  }
  if (c === '?') {
    r.pos++
    const v = r.s[r.pos++]
    if (v !== '0' && v !== '1') r.fail('bad boolean')
    return v === '1'
  }
  if (c === '-' || (c >= '0' && c <= '9')) {
    const m = take(r, INTEGER)
    if (!m) r.fail('bad integer')
    if (r.peek() === '.') r.fail('decimals are not supported')
    return Number(m[0])
  }
  const token = take(r, TOKEN)
  if (token) return { token: token[0] }
  return r.fail('item expected')
}

function parseParams(r: Reader): Params {
  const out: Params = []
  while (r.peek() === ';') {
    r.pos++
    r.skipSp()
    const key = parseKey(r)
    let value: BareItem = true
    if (r.peek() === '=') {
      r.pos++
      value = parseBareItem(r)
    }
    const at = out.findIndex(([k]) => k === key)
    if (at >= 0) out[at] = [key, value]
    else out.push([key, value])
    if (out.length > MAX_ITEMS) r.fail('too many parameters')
  }
  return out
}

function parseMember(r: Reader): Member {
  if (r.peek() !== '(') {
    const value = parseBareItem(r)
    return { value, params: parseParams(r) }
  }
  r.pos++
  const items: InnerList['items'] = []
  for (;;) {
    r.skipSp()
    if (r.peek() === ')') {
      r.pos++
      return { items, params: parseParams(r) }
    }
    const value = parseBareItem(r)
    items.push({ value, params: parseParams(r) })
    if (items.length > MAX_ITEMS) r.fail('too many items')
    const next = r.peek()
    if (next !== ' ' && next !== ')') r.fail('bad inner list')
  }
}

/** Parses a Dictionary field (several field lines joined with `, `). Throws StructuredFieldError. */
export function parseDictionary(field: string): Map<string, Member> {
  if (field.length > MAX_FIELD_LENGTH) throw new StructuredFieldError('field too long')
  const r = new Reader(field)
  const out = new Map<string, Member>()
  r.skipSp()
  while (!r.eof()) {
    const key = parseKey(r)
    let member: Member
    if (r.peek() === '=') {
      r.pos++
      member = parseMember(r)
    } else member = { value: true, params: parseParams(r) }
    out.set(key, member)
    if (out.size > MAX_MEMBERS) r.fail('too many members')
    r.skipOws()
    if (r.eof()) break
    if (r.peek() !== ',') r.fail('comma expected')
    r.pos++
    r.skipOws()
    if (r.eof()) r.fail('trailing comma')
  }
  return out
}

export function isInnerList(m: Member): m is InnerList {
  return 'items' in m
}

const NO_ESCAPES = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/

function serializeBareItem(v: BareItem): string {
  if (typeof v === 'string') {
    if (NO_ESCAPES.test(v)) return `"${v}"` // the common case, tested once
    if (!/^[\x20-\x7e]*$/.test(v)) throw new StructuredFieldError('string outside printable ASCII')
    return `"${v.replace(/[\\"]/g, (c) => '\\' + c)}"`
  }
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v)) throw new StructuredFieldError('not an integer')
    return String(v)
  }
  if (typeof v === 'boolean') return v ? '?1' : '?0'
  if (v instanceof Uint8Array) return `:${Buffer.from(v).toString('base64')}:`
  return v.token
}

export function serializeParams(params: Params): string {
  let out = ''
  for (const [k, v] of params) out += v === true ? `;${k}` : `;${k}=${serializeBareItem(v)}`
  return out
}

/** The canonical serialisation of an inner list (what `@signature-params` covers). */
export function serializeInnerList(list: InnerList): string {
  let out = '('
  for (let i = 0; i < list.items.length; i++) {
    const item = list.items[i]!
    out += (i ? ' ' : '') + serializeBareItem(item.value) + (item.params.length ? serializeParams(item.params) : '')
  }
  return `${out})${serializeParams(list.params)}`
}

export function serializeByteSequence(bytes: Uint8Array): string {
  return serializeBareItem(bytes)
}
