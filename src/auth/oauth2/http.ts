/**
 * The one way providers talk to vendors: fetch with a deadline and a cap on the answer's size,
 * so a slow or hostile endpoint cannot hold a request or fill memory.
 */
import { OAuth2Error } from './provider.ts'

/** Per call to a vendor (PocketBase gives the whole exchange 30 s). */
const TIMEOUT_MS = 15_000
/** Vendor JSON answers are a few KB; 1 MB is generous. */
const MAX_BYTES = 1 << 20

export interface VendorRequest {
  method?: 'GET' | 'POST'
  headers?: Record<string, string>
  /** Sent as application/x-www-form-urlencoded. */
  form?: Record<string, string>
}

export interface VendorResponse {
  status: number
  body: unknown
}

/** Calls a vendor endpoint and parses its JSON answer (any status: callers judge it). */
export async function vendorJson(url: string, req: VendorRequest = {}): Promise<VendorResponse> {
  const headers: Record<string, string> = { accept: 'application/json', ...req.headers }
  let body: string | undefined
  if (req.form) {
    headers['content-type'] = 'application/x-www-form-urlencoded'
    body = new URLSearchParams(req.form).toString()
  }
  let res: Response
  try {
    res = await fetch(url, { method: req.method ?? (body ? 'POST' : 'GET'), headers, body, redirect: 'error', signal: AbortSignal.timeout(TIMEOUT_MS) })
  } catch (err) {
    throw new OAuth2Error(`request to ${new URL(url).origin} failed: ${(err as Error).message}`)
  }
  const text = await readCapped(res)
  let parsed: unknown
  try {
    parsed = text === '' ? {} : JSON.parse(text)
  } catch {
    // Some vendors answer token requests form-encoded (GitHub without an Accept header).
    parsed = Object.fromEntries(new URLSearchParams(text))
  }
  return { status: res.status, body: parsed }
}

/** The answer as an object, or an OAuth2Error naming the endpoint and status. */
export function objectBody(res: VendorResponse, what: string): Record<string, unknown> {
  const b = res.body
  if (res.status >= 400 || b === null || typeof b !== 'object' || Array.isArray(b)) {
    throw new OAuth2Error(`${what} failed (${res.status}): ${JSON.stringify(b).slice(0, 300)}`)
  }
  return b as Record<string, unknown>
}

async function readCapped(res: Response): Promise<string> {
  if (!res.body) return ''
  const reader = res.body.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    size += value.byteLength
    if (size > MAX_BYTES) {
      await reader.cancel()
      throw new OAuth2Error('the vendor answer is too large')
    }
    chunks.push(value)
  }
  return Buffer.concat(chunks).toString('utf8')
}
