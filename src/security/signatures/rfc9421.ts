/**
 * RFC 9421 HTTP Message Signatures: the signature base, and signing and verifying it with the
 * three algorithms Plinth accepts (`hmac-sha256` for session keys, `ecdsa-p256-sha256` and
 * `ed25519` for device keys). No HTTP framework here: a message is a small view (`SignedMessage`)
 * that the middleware and the client helper both build.
 *
 * NB: the base is rebuilt from the parsed `Signature-Input` in canonical form, so a signer and a
 * verifier agree byte for byte; a component the message lacks makes the base fail, never an
 * empty value (RFC 9421 §2.5).
 */
import { createHmac, createPublicKey, sign as cryptoSign, timingSafeEqual, verify as cryptoVerify, type JsonWebKey, type KeyObject } from 'node:crypto'
import {
  isInnerList,
  MAX_FIELD_LENGTH,
  MAX_ITEMS,
  parseDictionary,
  serializeByteSequence,
  serializeInnerList,
  type BareItem,
  type InnerList,
  type Params,
} from './structured.ts'

export type SignatureAlgorithm = 'hmac-sha256' | 'ecdsa-p256-sha256' | 'ed25519'
export const ALGORITHMS: readonly SignatureAlgorithm[] = ['hmac-sha256', 'ecdsa-p256-sha256', 'ed25519']

/** What a signature can cover: the request line's parts, the status (responses) and fields. */
export interface SignedMessage {
  method?: string
  /** The full target URI, `https://example.com/foo?a=b`. */
  targetUri?: string
  /** Response status (for `@status`). */
  status?: number
  /** A field's value, every line of it; undefined when absent. Names are lower-case. */
  header(name: string): string | string[] | undefined
}

/** A key: raw bytes for HMAC, a public (verify) or private (sign) key object otherwise. */
export type SignatureKey = { alg: 'hmac-sha256'; secret: Uint8Array } | { alg: 'ecdsa-p256-sha256' | 'ed25519'; key: KeyObject }

export class SignatureBaseError extends Error {}

function url(msg: SignedMessage): URL {
  if (!msg.targetUri) throw new SignatureBaseError('no target URI')
  return new URL(msg.targetUri)
}

// A target URI that WHATWG URL parsing leaves as it is: lower-case http(s) scheme and host name of
// plain labels, a port that is not the scheme's default, and a path and query of characters URL
// neither escapes nor rewrites (no dot segments, no `%2e`, no fragment). Every signed request's
// `@target-uri` is built by the server from its request line, and a `new URL()` per request
// showed in profiles; anything else takes the full parse. test/security/rfc9421.test.ts checks
// the two agree on generated URIs.
const PLAIN_TARGET = /^(https?):\/\/([a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*)(?::([1-9][0-9]{0,4}))?(\/[A-Za-z0-9\-._~!$&'()*+,;=:@/%?]*)?$/
const NUMERIC_LABEL = /(?:^|\.)(?:[0-9]+|0x[0-9a-f]*)$/
const IPV4 = /^(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])$/
const REWRITTEN = /\/\.|%2e|%2E|\?.*'/

/** `@target-uri`: the URI as `new URL(uri).href` gives it, without parsing when it is already so. */
export function canonicalTargetUri(uri: string): string {
  const m = PLAIN_TARGET.exec(uri)
  if (m) {
    const [, scheme, host, port, rest] = m
    const defaultPort = scheme === 'http' ? '80' : '443'
    const plainHost = !NUMERIC_LABEL.test(host!) || IPV4.test(host!)
    if (plainHost && !host!.startsWith('xn--') && !host!.includes('.xn--') && port !== defaultPort && (port === undefined || Number(port) <= 65535) && rest !== undefined && !REWRITTEN.test(rest)) return uri
  }
  try {
    return new URL(uri).href
  } catch {
    throw new SignatureBaseError('bad target URI')
  }
}

/** One component's value (RFC 9421 §2.1 fields, §2.2 derived components), or a SignatureBaseError. */
export function componentValue(msg: SignedMessage, name: string): string {
  switch (name) {
    case '@method':
      if (!msg.method) throw new SignatureBaseError('no method')
      return msg.method.toUpperCase()
    case '@target-uri':
      if (!msg.targetUri) throw new SignatureBaseError('no target URI')
      return canonicalTargetUri(msg.targetUri)
    case '@authority':
      return url(msg).host.toLowerCase()
    case '@scheme':
      return url(msg).protocol.slice(0, -1).toLowerCase()
    case '@path':
      return url(msg).pathname || '/'
    case '@query': {
      const raw = msg.targetUri!.includes('?') ? msg.targetUri!.slice(msg.targetUri!.indexOf('?') + 1).split('#')[0]! : ''
      return `?${raw}`
    }
    case '@request-target': {
      const u = url(msg)
      return u.pathname + u.search
    }
    case '@status':
      if (msg.status === undefined) throw new SignatureBaseError('no status')
      return String(msg.status)
  }
  if (name.startsWith('@')) throw new SignatureBaseError(`unsupported derived component ${name}`)
  if (name !== name.toLowerCase()) throw new SignatureBaseError('field names must be lower-case')
  const v = msg.header(name)
  if (v === undefined) throw new SignatureBaseError(`missing field ${name}`)
  if (typeof v === 'string' && !v.includes('\n')) return v.trim() // one line: the common case
  // §2.1: each line trimmed, lines joined with ", ", obs-fold replaced by a space.
  return (Array.isArray(v) ? v : [v]).map((line) => line.replace(/\s*\r?\n\s*/g, ' ').trim()).join(', ')
}

/** The covered components and parameters of one signature, as in `Signature-Input`. */
export interface SignatureInput {
  components: string[]
  params: Params
  /** The canonical serialisation, when the parser saw it was already so (saves serialising again). */
  serialized?: string
}

function toInnerList(input: SignatureInput): InnerList {
  return { items: input.components.map((c) => ({ value: c, params: [] })), params: input.params }
}

/** The `@signature-params` value: the canonical serialisation of the inner list. */
export function signatureParams(input: SignatureInput): string {
  return input.serialized ?? serializeInnerList(toInnerList(input))
}

/** The signature base (RFC 9421 §2.5): one line per covered component, then `@signature-params`. */
export function signatureBase(msg: SignedMessage, input: SignatureInput): string {
  const components = input.components
  let base = ''
  for (let i = 0; i < components.length; i++) {
    const c = components[i]!
    if (components.indexOf(c) !== i) throw new SignatureBaseError('a component is listed twice') // at most MAX_ITEMS
    const value = componentValue(msg, c)
    if (value.includes('\n') || value.includes('\r')) throw new SignatureBaseError('newline in a component value')
    base += `"${c}": ${value}\n`
  }
  return `${base}"@signature-params": ${signatureParams(input)}`
}

/** Signs a base: HMAC, ECDSA (raw r||s, 64 bytes, as §3.3.4 demands) or Ed25519. */
export function signBase(key: SignatureKey, base: string): Uint8Array {
  const data = Buffer.from(base, 'utf8')
  if (key.alg === 'hmac-sha256') return new Uint8Array(createHmac('sha256', key.secret).update(data).digest())
  if (key.alg === 'ecdsa-p256-sha256') return new Uint8Array(cryptoSign('sha256', data, { key: key.key, dsaEncoding: 'ieee-p1363' }))
  return new Uint8Array(cryptoSign(null, data, key.key))
}

/** Checks a signature over a base; false for any mismatch (constant time for HMAC). */
export function verifyBase(key: SignatureKey, base: string, signature: Uint8Array): boolean {
  try {
    if (key.alg === 'hmac-sha256') {
      const expected = createHmac('sha256', key.secret).update(base, 'utf8').digest()
      return signature.length === expected.length && timingSafeEqual(expected, signature)
    }
    const data = Buffer.from(base, 'utf8')
    if (key.alg === 'ecdsa-p256-sha256') {
      return signature.length === 64 && cryptoVerify('sha256', data, { key: key.key, dsaEncoding: 'ieee-p1363' }, signature)
    }
    return signature.length === 64 && cryptoVerify(null, data, key.key, signature)
  } catch {
    return false
  }
}

/** A public key for verifying, from a PEM or a JWK (device keys are registered as JWKs). */
export function publicKeyOf(alg: 'ecdsa-p256-sha256' | 'ed25519', pemOrJwk: string | JsonWebKey): SignatureKey {
  const key = typeof pemOrJwk === 'string' ? createPublicKey(pemOrJwk) : createPublicKey({ key: pemOrJwk, format: 'jwk' })
  const type = key.asymmetricKeyType
  const curve = key.asymmetricKeyDetails?.namedCurve
  if (alg === 'ed25519' ? type !== 'ed25519' : type !== 'ec' || curve !== 'prime256v1') throw new SignatureBaseError(`the key is not a ${alg} key`)
  return { alg, key }
}

/** One signature taken from a request's `Signature-Input` and `Signature` fields. */
export interface ParsedSignature {
  label: string
  input: SignatureInput
  signature: Uint8Array
  /** The parameters by name, for the policy checks. */
  param(name: string): BareItem | undefined
}

function joined(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v.join(', ') : v
}

/**
 * Every signature in a message whose label appears in both fields. Throws SignatureBaseError on
 * a malformed field, a component that is not a plain string, or a component parameter (`;sf`,
 * `;key`, `;req`, `;bs`: Plinth's policy needs none, and refusing them keeps the base simple).
 */
export function parseSignatures(msg: Pick<SignedMessage, 'header'>): ParsedSignature[] {
  const inputField = joined(msg.header('signature-input'))
  const sigField = joined(msg.header('signature'))
  if (inputField === undefined || sigField === undefined) return []
  const one = parseOneCanonical(inputField, sigField)
  if (one) return [one]
  let inputs, sigs
  try {
    inputs = parseDictionary(inputField)
    sigs = parseDictionary(sigField)
  } catch (err) {
    throw new SignatureBaseError(`malformed signature field: ${(err as Error).message}`)
  }
  const out: ParsedSignature[] = []
  for (const [label, member] of inputs) {
    const sig = sigs.get(label)
    if (!sig) continue
    if (!isInnerList(member)) throw new SignatureBaseError('Signature-Input member is not an inner list')
    if (isInnerList(sig) || !(sig.value instanceof Uint8Array)) throw new SignatureBaseError('Signature member is not a byte sequence')
    const components = member.items.map((i) => {
      if (typeof i.value !== 'string' || i.params.length > 0) throw new SignatureBaseError('unsupported component identifier')
      return i.value
    })
    const params = member.params
    out.push({
      label,
      input: { components, params },
      signature: sig.value,
      param: (name) => params.find(([k]) => k === name)?.[1],
    })
  }
  return out
}

// One signature whose Signature-Input member is already in canonical form (RFC 8941 §4.1): plain
// quoted component names without parameters, single spaces, and parameters that are each a
// String without escapes or an Integer without leading zeros. What Plinth's client helper and most
// signers send; matched by one expression, and its text is then the `@signature-params` value as
// is. Anything else (several members, tokens, escapes, booleans) takes the general parser.
const CANONICAL_INPUT = /^([a-z*][a-z0-9_\-.*]*)=(\(((?:"[a-z0-9@\-._]+"(?: "[a-z0-9@\-._]+")*)?)\)((?:;[a-z*][a-z0-9_\-.*]*=(?:"[\x20\x21\x23-\x5b\x5d-\x7e]*"|0|-?[1-9][0-9]{0,14}))*))$/
const CANONICAL_PARAM = /;([a-z*][a-z0-9_\-.*]*)=(?:"([\x20\x21\x23-\x5b\x5d-\x7e]*)"|(-?[0-9]+))/y
const ONE_SIGNATURE = /^([a-z*][a-z0-9_\-.*]*)=:((?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?):$/

function parseOneCanonical(inputField: string, sigField: string): ParsedSignature | undefined {
  if (inputField.length > MAX_FIELD_LENGTH || sigField.length > MAX_FIELD_LENGTH) return undefined
  const input = CANONICAL_INPUT.exec(inputField)
  const sig = input && ONE_SIGNATURE.exec(sigField)
  if (!input || !sig || sig[1] !== input[1]) return undefined
  const components = input[3] ? input[3].slice(1, -1).split('" "') : []
  const params: Params = []
  const text = input[4]!
  CANONICAL_PARAM.lastIndex = 0
  for (let m; CANONICAL_PARAM.lastIndex < text.length && (m = CANONICAL_PARAM.exec(text)); ) {
    const name = m[1]!
    if (params.some(([k]) => k === name)) return undefined // a repeated key is not canonical: the general parser decides
    params.push([name, m[2] ?? Number(m[3])])
  }
  if (components.length > MAX_ITEMS || params.length > MAX_ITEMS) return undefined
  return {
    label: input[1]!,
    input: { components, params, serialized: input[2]! },
    signature: Buffer.from(sig[2]!, 'base64'),
    param: (name) => params.find(([k]) => k === name)?.[1],
  }
}

/** What `sign()` adds to a message: the two field values for one label. */
export interface SignatureFields {
  'signature-input': string
  signature: string
}

/** Signs `msg` over `input` under `label`, giving the `Signature-Input` and `Signature` values. */
export function signMessage(msg: SignedMessage, input: SignatureInput, key: SignatureKey, label = 'sig1'): SignatureFields {
  const base = signatureBase(msg, input)
  return {
    'signature-input': `${label}=${signatureParams(input)}`,
    signature: `${label}=${serializeByteSequence(signBase(key, base))}`,
  }
}
