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

/** One component's value (RFC 9421 §2.1 fields, §2.2 derived components), or a SignatureBaseError. */
export function componentValue(msg: SignedMessage, name: string): string {
  switch (name) {
    case '@method':
      if (!msg.method) throw new SignatureBaseError('no method')
      return msg.method.toUpperCase()
    case '@target-uri':
      return url(msg).href
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
  // §2.1: each line trimmed, lines joined with ", ", obs-fold replaced by a space.
  return (Array.isArray(v) ? v : [v]).map((line) => line.replace(/\s*\r?\n\s*/g, ' ').trim()).join(', ')
}

/** The covered components and parameters of one signature, as in `Signature-Input`. */
export interface SignatureInput {
  components: string[]
  params: Params
}

function toInnerList(input: SignatureInput): InnerList {
  return { items: input.components.map((c) => ({ value: c, params: [] })), params: input.params }
}

/** The `@signature-params` value: the canonical serialisation of the inner list. */
export function signatureParams(input: SignatureInput): string {
  return serializeInnerList(toInnerList(input))
}

/** The signature base (RFC 9421 §2.5): one line per covered component, then `@signature-params`. */
export function signatureBase(msg: SignedMessage, input: SignatureInput): string {
  const seen = new Set<string>()
  const lines: string[] = []
  for (const c of input.components) {
    if (seen.has(c)) throw new SignatureBaseError('a component is listed twice')
    seen.add(c)
    const value = componentValue(msg, c)
    if (/[\r\n]/.test(value)) throw new SignatureBaseError('newline in a component value')
    lines.push(`"${c}": ${value}`)
  }
  lines.push(`"@signature-params": ${signatureParams(input)}`)
  return lines.join('\n')
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
