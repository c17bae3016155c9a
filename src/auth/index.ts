/**
 * Auth building blocks used by the records API: password hashing, record tokens, the request
 * authenticator and superusers. The HTTP endpoints live in src/api/record-auth.ts.
 * OWNER: auth (src/auth/).
 */
import './request.ts'

export { hashPassword, verifyPassword } from './password.ts'
export { createAuthenticator, tokenFromHeader, SUPERUSERS, type Authenticate, type AuthenticatorDeps } from './authenticate.ts'
export { signRecordToken, verifyRecordToken, readUnverified, type TokenType, type TokenClaims, type SignOptions } from './tokens.ts'
export { findRowByToken, type TokenMatch } from './records.ts'
export { newTokenKey } from './tokens.ts'
export {
  INSTALLER_EMAIL,
  installLink,
  removeInstallerOnSuperuserCreate,
  createSuperuser,
  upsertSuperuser,
  updateSuperuserPassword,
  deleteSuperuser,
  type InstallDeps,
} from './superusers.ts'
export { publicAuthRecord } from './response.ts'
