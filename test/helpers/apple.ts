/**
 * A local Sign in with Apple: a developer key (.p8 written to disk), Apple's signing key served as
 * a JWKS, and a token endpoint that checks our client-secret JWT with the developer's public key
 * before it answers with an id_token (as Apple does: ES256, iss teamId, sub clientId, aud Apple).
 */
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { exportJWK, exportPKCS8, generateKeyPair, jwtVerify, SignJWT, type JWTPayload } from 'jose'
import { startVendor, type Vendor } from './vendor.ts'

export const TEAM_ID = 'TEAM123456'
export const KEY_ID = 'KEY7654321'
export const CLIENT_ID = 'com.example.app'

export interface AppleFixture {
  vendor: Vendor
  keyFile: string
  /** The claims of the next id_token the token endpoint hands out (tests change them). */
  next: JWTPayload
  /** Signs an id_token with Apple's key (or another key, to test a forged one). */
  idToken(claims: JWTPayload, forged?: boolean): Promise<string>
  /** What the last client secret carried, after the endpoint verified it. */
  lastSecret?: { header: Record<string, unknown>; payload: JWTPayload }
  extra: Record<string, unknown>
}

export async function startApple(dir: string): Promise<AppleFixture> {
  const dev = await generateKeyPair('ES256', { extractable: true })
  const keyFile = path.join(dir, `AuthKey_${KEY_ID}.p8`)
  writeFileSync(keyFile, await exportPKCS8(dev.privateKey))
  const apple = await generateKeyPair('RS256', { extractable: true })
  const stranger = await generateKeyPair('RS256')
  const jwk = { ...(await exportJWK(apple.publicKey)), kid: 'apple-1', alg: 'RS256', use: 'sig' }
  const now = () => Math.floor(Date.now() / 1000)
  const fx: AppleFixture = {
    vendor: undefined as unknown as Vendor,
    keyFile,
    next: { iss: 'https://appleid.apple.com', aud: CLIENT_ID, sub: '001234.apple-user', email: 'a@privaterelay.appleid.com', email_verified: 'true' },
    async idToken(claims, forged) {
      return new SignJWT(claims)
        .setProtectedHeader({ alg: 'RS256', kid: 'apple-1' })
        .setIssuedAt(now())
        .setExpirationTime((claims.exp as number | undefined) ?? now() + 600)
        .sign(forged ? stranger.privateKey : apple.privateKey)
    },
    extra: {},
  }
  fx.vendor = await startVendor({
    'GET /auth/keys': () => ({ body: { keys: [jwk] } }),
    'POST /auth/token': async (req) => {
      try {
        const { payload, protectedHeader } = await jwtVerify(req.form.client_secret ?? '', dev.publicKey, {
          issuer: TEAM_ID,
          subject: req.form.client_id,
          audience: 'https://appleid.apple.com',
          algorithms: ['ES256'],
        })
        fx.lastSecret = { header: protectedHeader as Record<string, unknown>, payload }
      } catch {
        return { status: 400, body: { error: 'invalid_client' } }
      }
      if (req.form.grant_type !== 'authorization_code' || req.form.code !== 'apple-code') return { status: 400, body: { error: 'invalid_grant' } }
      return { body: { access_token: 'apple-at', token_type: 'Bearer', expires_in: 3600, refresh_token: 'apple-rt', id_token: await fx.idToken(fx.next) } }
    },
  })
  fx.extra = { teamId: TEAM_ID, keyId: KEY_ID, keyFile, jwksURL: `${fx.vendor.url}/auth/keys` }
  return fx
}
