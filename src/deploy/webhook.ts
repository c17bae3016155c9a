/**
 * Push webhooks from the four git hosts Plinth's users deploy from, each checked its own way:
 *
 * - GitHub: `X-GitHub-Event: push`, `X-Hub-Signature-256: sha256=` HMAC-SHA256 of the raw body;
 * - GitLab: `X-Gitlab-Event: Push Hook`, `X-Gitlab-Token`: the secret token itself;
 * - Gitee: `X-Gitee-Event: Push Hook`, `X-Gitee-Token`: either the password itself or, with a
 *   signing key, base64 HMAC-SHA256 of `"{X-Gitee-Timestamp}\n{secret}"` (the timestamp within 1 hour);
 * - Coding: `X-Coding-Event: push`, `X-Coding-Signature: sha1=` HMAC-SHA1 of the raw body.
 *
 * Every comparison is constant-time. The payload's `ref` and `after` say which branch moved and to
 * which commit (all four use these names).
 */
import { createHmac, timingSafeEqual } from 'node:crypto'

export type GitHost = 'github' | 'gitlab' | 'gitee' | 'coding'

export interface PushEvent {
  host: GitHost
  /** `refs/heads/main` → `main`; undefined for tags and other refs. */
  branch: string | undefined
  /** The commit the branch now points at (40 hex). */
  commit: string
}

/** Why a webhook was refused: `unauthorized` (signature/token) or `bad_request` (not a push). */
export class WebhookError extends Error {
  constructor(
    readonly reason: 'unauthorized' | 'bad_request' | 'ignored',
    message: string,
  ) {
    super(message)
  }
}

type Headers = Record<string, string | string[] | undefined>

const header = (h: Headers, name: string): string | undefined => {
  const v = h[name]
  return Array.isArray(v) ? v[0] : v
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}

const hmac = (alg: 'sha1' | 'sha256', secret: string, data: string | Buffer, enc: 'hex' | 'base64') => createHmac(alg, secret).update(data).digest(enc)

/** Which host sent it, from its event header. */
export function detectHost(h: Headers): GitHost | undefined {
  if (header(h, 'x-github-event') !== undefined) return 'github'
  if (header(h, 'x-gitlab-event') !== undefined) return 'gitlab'
  if (header(h, 'x-gitee-event') !== undefined) return 'gitee'
  if (header(h, 'x-coding-event') !== undefined) return 'coding'
  return undefined
}

/** Checks the signature or token; throws WebhookError('unauthorized') when it does not match. */
function verify(host: GitHost, h: Headers, body: Buffer, secret: string, now: number): void {
  const fail = (what: string) => {
    throw new WebhookError('unauthorized', `${host} webhook: ${what}`)
  }
  switch (host) {
    case 'github': {
      const sig = header(h, 'x-hub-signature-256') ?? fail('no X-Hub-Signature-256 header')
      if (!same(sig, `sha256=${hmac('sha256', secret, body, 'hex')}`)) fail('signature does not match')
      return
    }
    case 'gitlab': {
      const token = header(h, 'x-gitlab-token') ?? fail('no X-Gitlab-Token header')
      if (!same(token, secret)) fail('token does not match')
      return
    }
    case 'gitee': {
      const token = header(h, 'x-gitee-token') ?? fail('no X-Gitee-Token header')
      const ts = header(h, 'x-gitee-timestamp')
      if (ts === undefined) {
        if (!same(token, secret)) fail('password does not match')
        return
      }
      if (!/^\d{10,13}$/.test(ts) || Math.abs(now - Number(ts)) > 3600_000) fail('timestamp missing or more than an hour off')
      if (!same(token, hmac('sha256', secret, `${ts}\n${secret}`, 'base64'))) fail('signature does not match')
      return
    }
    case 'coding': {
      const sig = header(h, 'x-coding-signature') ?? fail('no X-Coding-Signature header')
      if (!same(sig, `sha1=${hmac('sha1', secret, body, 'hex')}`)) fail('signature does not match')
      return
    }
  }
}

const PUSH_EVENTS: Record<GitHost, [string, string]> = {
  github: ['x-github-event', 'push'],
  gitlab: ['x-gitlab-event', 'Push Hook'],
  gitee: ['x-gitee-event', 'Push Hook'],
  coding: ['x-coding-event', 'push'],
}

/**
 * Verifies a webhook request and reads its push. A verified event that is not a push (GitHub's
 * `ping`, a tag, a merge request) is WebhookError('ignored'); a deleted branch too.
 */
export function readPush(h: Headers, body: Buffer, secret: string, now = Date.now()): PushEvent {
  const host = detectHost(h)
  if (!host) throw new WebhookError('bad_request', 'not a GitHub, GitLab, Gitee or Coding webhook (no event header)')
  verify(host, h, body, secret, now)
  const [name, push] = PUSH_EVENTS[host]
  const event = header(h, name)
  if (event !== push) throw new WebhookError('ignored', `${host} event "${event}" is not a push`)
  let payload: { ref?: unknown; after?: unknown }
  try {
    payload = JSON.parse(body.toString('utf8')) as typeof payload
  } catch {
    throw new WebhookError('bad_request', `${host} webhook: the body is not JSON`)
  }
  const ref = typeof payload?.ref === 'string' ? payload.ref : ''
  const commit = typeof payload?.after === 'string' ? payload.after : ''
  if (!/^[0-9a-f]{40}$/.test(commit)) throw new WebhookError('bad_request', `${host} webhook: "after" is not a commit id`)
  if (/^0{40}$/.test(commit)) throw new WebhookError('ignored', `${host} webhook: the branch was deleted`)
  const branch = ref.startsWith('refs/heads/') ? ref.slice('refs/heads/'.length) : undefined
  return { host, branch, commit }
}
