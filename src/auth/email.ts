/** Close to PocketBase's (ozzo) email check: one @, no spaces or brackets, not ending in a dot. */
export function isEmailAddress(value: string): boolean {
  return value.length <= 254 && /^[^\s@<>()[\]\\,;:"]+@[^\s@<>()[\]\\,;:"]+$/.test(value) && !value.endsWith('.')
}
