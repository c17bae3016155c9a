/**
 * Plinth's client helper for signed requests (RFC 9421) and encrypted fields, with no dependency
 * beyond WebCrypto, so it runs in browsers, React Native with a WebCrypto polyfill, Deno and Node 20+.
 *
 * - `RequestSigner.sign()` gives the `Signature-Input`, `Signature` and `Content-Digest` headers for
 *   a request (covering `@method`, `@target-uri`, `content-digest` when there is a body, and
 *   `authorization` when present), with `created` and a fresh random `nonce` each time.
 * - `signedFetch(signer)` wraps `fetch`; `withPlinthSigning(pb, signer)` installs PocketBase SDK
 *   `beforeSend`/`afterSend` hooks that sign every request and pick up the session key each auth
 *   response carries (`signingKey`).
 * - `FieldEncryptor` encrypts field values (passwords, SMS codes, fields marked `sensitive`) as
 *   compact JWE to the server's current key from `/api/plinth/keys`.
 */

export type SignatureAlgorithm = 'hmac-sha256' | 'ecdsa-p256-sha256' | 'ed25519'

/** A WebCrypto private key (`CryptoKey`), named structurally so no DOM typings are needed. */
export type PrivateKeyHandle = Parameters<typeof globalThis.crypto.subtle.sign>[1]

/** A session key as Plinth returns it (`signingKey` in auth responses), or a device key. */
export type ClientKey =
  | { keyid: string; alg: 'hmac-sha256'; secret: string }
  | { keyid: string; alg: 'ecdsa-p256-sha256' | 'ed25519'; privateKey: PrivateKeyHandle }

/** What is signed: the request as it will be sent. */
export interface OutgoingRequest {
  method: string
  url: string
  headers: Record<string, string>
  body?: string | Uint8Array<ArrayBuffer>
}

const subtle = () => globalThis.crypto.subtle

/** Bytes backed by a plain ArrayBuffer, which is what WebCrypto's and fetch's typings accept. */
type Bytes = Uint8Array<ArrayBuffer>

function toBase64(bytes: Uint8Array): string {
  let s = ''
  for (const b of bytes) s += String.fromCharCode(b)
  return btoa(s)
}

function toBase64Url(bytes: Uint8Array): string {
  return toBase64(bytes).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
}

function fromBase64(b64: string): Bytes {
  const s = atob(b64)
  const out = new Uint8Array(s.length)
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i)
  return out
}

const utf8 = (s: string): Bytes => new Uint8Array(new TextEncoder().encode(s))

/** An RFC 8941 string (`"..."` with `\` and `"` escaped). */
function sfString(s: string): string {
  return `"${s.replace(/[\\"]/g, (c) => '\\' + c)}"`
}

/** The `@signature-params` value for components and ordered parameters. */
export function signatureParams(components: string[], params: [string, string | number][]): string {
  return `(${components.map(sfString).join(' ')})${params.map(([k, v]) => `;${k}=${typeof v === 'number' ? v : sfString(v)}`).join('')}`
}

/** One component's value for a request or response (the subset Plinth uses, plus `@status`). */
function componentValue(name: string, msg: { method?: string; url?: string; status?: number; headers: Record<string, string> }): string {
  const u = msg.url ? new URL(msg.url) : undefined
  switch (name) {
    case '@method':
      return msg.method!.toUpperCase()
    case '@target-uri':
      return u!.href
    case '@authority':
      return u!.host
    case '@path':
      return u!.pathname
    case '@query':
      return u!.search || '?'
    case '@status':
      return String(msg.status)
  }
  const key = Object.keys(msg.headers).find((h) => h.toLowerCase() === name)
  if (key === undefined) throw new Error(`plinth-signing: the message has no ${name} field`)
  return msg.headers[key]!.trim()
}

/** The RFC 9421 signature base for `components` and `params` over a message. */
export function signatureBase(
  msg: { method?: string; url?: string; status?: number; headers: Record<string, string> },
  components: string[],
  params: [string, string | number][],
): string {
  return [...components.map((c) => `"${c}": ${componentValue(c, msg)}`), `"@signature-params": ${signatureParams(components, params)}`].join('\n')
}

/** Signs a base with a key: HMAC-SHA256, ECDSA P-256 (raw r||s) or Ed25519. */
export async function signBase(key: ClientKey, base: string): Promise<Uint8Array> {
  if (key.alg === 'hmac-sha256') {
    const k = await subtle().importKey('raw', fromBase64(key.secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign'])
    return new Uint8Array(await subtle().sign('HMAC', k, utf8(base)))
  }
  const algo = key.alg === 'ed25519' ? { name: 'Ed25519' } : { name: 'ECDSA', hash: 'SHA-256' }
  return new Uint8Array(await subtle().sign(algo, key.privateKey, utf8(base)))
}

/** `sha-256=:...:` for a body. */
export async function contentDigest(body: string | Bytes): Promise<string> {
  const bytes = typeof body === 'string' ? utf8(body) : body
  return `sha-256=:${toBase64(new Uint8Array(await subtle().digest('SHA-256', bytes)))}:`
}

function newNonce(): string {
  return toBase64Url(globalThis.crypto.getRandomValues(new Uint8Array(16)))
}

export interface SignerOptions {
  /** The signature label; default `sig1`. */
  label?: string
  /** Seconds since the epoch; default the device clock. */
  now?: () => number
}

/** Signs requests with the current key (a session key from the last sign-in, or a device key). */
export class RequestSigner {
  key: ClientKey | undefined
  constructor(
    key?: ClientKey,
    private readonly opts: SignerOptions = {},
  ) {
    this.key = key
  }

  /** The headers to add to `req` (none while no key is set). */
  async sign(req: OutgoingRequest): Promise<Record<string, string>> {
    const key = this.key
    if (!key) return {}
    const headers: Record<string, string> = { ...req.headers }
    const added: Record<string, string> = {}
    const components = ['@method', '@target-uri']
    const hasBody = req.body !== undefined && (typeof req.body === 'string' ? req.body.length > 0 : req.body.byteLength > 0)
    if (hasBody) {
      added['content-digest'] = headers['content-digest'] = await contentDigest(req.body!)
      components.push('content-digest')
    }
    if (Object.keys(headers).some((h) => h.toLowerCase() === 'authorization')) components.push('authorization')
    const created = Math.floor(this.opts.now?.() ?? Date.now() / 1000)
    const params: [string, string | number][] = [['created', created], ['nonce', newNonce()], ['keyid', key.keyid], ['alg', key.alg]]
    const base = signatureBase({ method: req.method, url: req.url, headers }, components, params)
    const label = this.opts.label ?? 'sig1'
    added['signature-input'] = `${label}=${signatureParams(components, params)}`
    added.signature = `${label}=:${toBase64(await signBase(key, base))}:`
    return added
  }
}

/** Turns any fetch body into the bytes that will be sent (FormData gets its boundary here). */
async function bodyBytes(url: string, init: RequestInit): Promise<{ body?: Bytes; contentType?: string }> {
  if (init.body === undefined || init.body === null) return {}
  if (typeof init.body === 'string') return { body: utf8(init.body) }
  const r = new Request(url, { method: init.method ?? 'POST', body: init.body })
  return { body: new Uint8Array(await r.arrayBuffer()), contentType: r.headers.get('content-type') ?? undefined }
}

function plainHeaders(h: ConstructorParameters<typeof Headers>[0]): Record<string, string> {
  const out: Record<string, string> = {}
  new Headers(h).forEach((v, k) => (out[k] = v))
  return out
}

/**
 * Prepares a fetch call: the signature headers added, and a body that is not a string (FormData,
 * a stream) fixed as the bytes that were signed, with the content type (and multipart boundary)
 * they were made with. A string body is sent as it is: the PocketBase SDK serialises any
 * non-string body it is handed back as JSON.
 */
export async function signInit(signer: RequestSigner, url: string, init: RequestInit = {}): Promise<RequestInit> {
  const headers = plainHeaders(init.headers)
  const { body, contentType } = await bodyBytes(url, init)
  if (contentType) headers['content-type'] = contentType
  const added = await signer.sign({ method: init.method ?? 'GET', url, headers, body })
  return { ...init, headers: { ...headers, ...added }, ...(body && typeof init.body !== 'string' ? { body } : {}) }
}

/** `fetch` that signs every request with `signer`. */
export function signedFetch(signer: RequestSigner, base: typeof fetch = fetch): typeof fetch {
  return async (input, init) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url
    return base(url, await signInit(signer, url, init))
  }
}

/** PocketBase SDK's query encoding (what `send()` appends after `beforeSend`). */
function serializeQuery(query: Record<string, unknown>): string {
  const parts: string[] = []
  for (const [k, raw] of Object.entries(query)) {
    for (const v of Array.isArray(raw) ? raw : [raw]) {
      if (v === null || v === undefined) continue
      const value = v instanceof Date ? v.toISOString().replace('T', ' ') : typeof v === 'object' ? JSON.stringify(v) : String(v)
      parts.push(`${encodeURIComponent(k)}=${encodeURIComponent(value)}`)
    }
  }
  return parts.join('&')
}

/** The part of the PocketBase SDK client the hooks use. */
export interface PocketBaseLike {
  beforeSend?: (url: string, options: { [key: string]: unknown }) => unknown
  afterSend?: (response: Response, data: unknown) => unknown
}

/**
 * Signs every request `pb` sends and keeps the session key from each auth response. The query
 * is appended and a JSON body serialised here, so what is signed is exactly what is sent.
 */
export function withPlinthSigning(pb: PocketBaseLike, signer: RequestSigner): void {
  pb.beforeSend = async (url: string, options: { [key: string]: unknown }) => {
    if (!signer.key) return { url, options } // nothing to sign (signing is off): the SDK sends it as ever
    let target = url
    const query = options.query as Record<string, unknown> | undefined
    if (query) {
      const q = serializeQuery(query)
      if (q) target += (target.includes('?') ? '&' : '?') + q
    }
    const init = { ...options } as RequestInit & { query?: unknown }
    delete init.query
    if (init.body !== undefined && typeof init.body !== 'string' && !(init.body instanceof FormData)) init.body = JSON.stringify(init.body)
    return { url: target, options: await signInit(signer, target, init) }
  }
  pb.afterSend = (_response: Response, data: unknown) => {
    const key = (data as { signingKey?: ClientKey } | null)?.signingKey
    if (key && key.alg === 'hmac-sha256') signer.key = key
    return data
  }
}

/** A WebCrypto key, named structurally (no DOM typings). */
type KeyHandle = Awaited<ReturnType<typeof globalThis.crypto.subtle.importKey>>

/** A server key as `/api/plinth/keys` publishes it: an RSA public JWK with its `kid`. */
export interface ServerKey {
  kid: string
  kty: 'RSA'
  n: string
  e: string
}

/**
 * Encrypts field values for Plinth: compact JWE, RSA-OAEP-256 (SHA-256) wrapping a fresh
 * AES-256-GCM key per value, to the server's current key, which is fetched from
 * `/api/plinth/keys` on first use and kept. After `plinth keys rotate` the old key still decrypts
 * for the grace period (`keys.graceHours`); call `refresh()` to pick up the new one.
 */
export class FieldEncryptor {
  #key: Promise<{ kid: string; key: KeyHandle }> | undefined

  /** `base`: the server's URL (`https://api.example.com`); `fetchImpl`: another fetch, if need be. */
  constructor(
    private readonly base: string,
    private readonly fetchImpl: typeof fetch = (...args) => fetch(...args),
  ) {}

  /** Forgets the kept key: the next value is encrypted to the server's current one. */
  refresh(): void {
    this.#key = undefined
  }

  /** `value` as compact JWE to the server's current key. */
  async encrypt(value: string): Promise<string> {
    const { kid, key } = await (this.#key ??= this.#fetchKey())
    const header = toBase64Url(utf8(JSON.stringify({ alg: 'RSA-OAEP-256', enc: 'A256GCM', kid })))
    const cek = globalThis.crypto.getRandomValues(new Uint8Array(32))
    const wrapped = new Uint8Array(await subtle().encrypt({ name: 'RSA-OAEP' }, key, cek))
    const iv = globalThis.crypto.getRandomValues(new Uint8Array(12))
    const aes = await subtle().importKey('raw', cek, 'AES-GCM', false, ['encrypt'])
    // The protected header, as sent, is the additional data; WebCrypto appends the 16-byte tag.
    const sealed = new Uint8Array(await subtle().encrypt({ name: 'AES-GCM', iv, additionalData: utf8(header), tagLength: 128 }, aes, utf8(value)))
    return [header, toBase64Url(wrapped), toBase64Url(iv), toBase64Url(sealed.subarray(0, -16)), toBase64Url(sealed.subarray(-16))].join('.')
  }

  /**
   * A copy of `body` with each field in `names` encrypted: a string as it is (text and password
   * fields), any other value as its JSON text (`42`, `{"a":1}`: number and json fields). An
   * absent, null or empty value is left as it is: it is no secret, and Plinth accepts it plain
   * even with `requireEncryption`.
   */
  async encryptFields<T extends Record<string, unknown>>(body: T, names: readonly string[]): Promise<T> {
    const out: Record<string, unknown> = { ...body }
    for (const name of names) {
      const value = out[name]
      if (value === undefined || value === null || value === '') continue
      out[name] = await this.encrypt(typeof value === 'string' ? value : JSON.stringify(value))
    }
    return out as T
  }

  async #fetchKey(): Promise<{ kid: string; key: KeyHandle }> {
    try {
      const res = await this.fetchImpl(`${this.base.replace(/\/+$/, '')}/api/plinth/keys`)
      if (!res.ok) throw new Error(`plinth-signing: /api/plinth/keys answered ${res.status}`)
      const jwk = ((await res.json()) as { keys?: ServerKey[] }).keys?.[0]
      if (!jwk || jwk.kty !== 'RSA' || typeof jwk.kid !== 'string') throw new Error('plinth-signing: /api/plinth/keys has no RSA key')
      const key = await subtle().importKey('jwk', { kty: 'RSA', n: jwk.n, e: jwk.e }, { name: 'RSA-OAEP', hash: 'SHA-256' }, false, ['encrypt'])
      return { kid: jwk.kid, key }
    } catch (err) {
      this.#key = undefined // a failed fetch is tried again next time, not kept
      throw err
    }
  }
}
