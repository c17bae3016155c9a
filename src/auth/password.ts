/**
 * Password hashing lives beside the password field (src/records/fields/password-hash.ts), since
 * records hash on write and auth only checks; auth code imports it from here.
 */
export { hashPassword, verifyPassword, dummyHash } from '../records/fields/password-hash.ts'
