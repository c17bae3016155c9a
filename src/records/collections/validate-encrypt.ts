import type { Collection } from '../model.ts'
import { ENCRYPTABLE_TYPES } from '../fields/at-rest.ts'
import { fieldError, setError, type ErrorTree } from './errors.ts'
import { parseIndex } from './index-definition.ts'

/**
 * The `encrypt` mark (records/fields/at-rest.ts), reported under `fields.{i}.encrypt` and
 * `indexes.{i}`: only text-like fields that are not system fields or the primary key; only with a
 * key configured; never turned off on a field that has it (its stored values are ciphertext);
 * never in an index (every value is sealed with a fresh IV, so an index orders noise and a
 * UNIQUE one would not stop duplicates).
 */
export function validateEncryptedFields(next: Collection, prev: Collection | undefined, canEncrypt: boolean, errors: ErrorTree): void {
  const at = (i: number, message: string) => setError(errors, ['fields', i, 'encrypt'], fieldError('validation_invalid_value', message))
  for (const [i, f] of next.fields.entries()) {
    const old = prev?.fields.find((o) => o.id === f.id)
    if (!f.encrypt) {
      if (old?.encrypt) at(i, 'Encryption at rest cannot be turned off on an existing field (its stored values are encrypted); add a new field instead.')
      continue
    }
    if (!ENCRYPTABLE_TYPES.includes(f.type)) at(i, 'Only text, email, url, editor and json fields can be encrypted at rest.')
    else if (f.system || (f.type === 'text' && f.primaryKey)) at(i, 'System fields and the primary key cannot be encrypted at rest.')
    else if (!canEncrypt && !old?.encrypt) at(i, 'Set keys.atRestKey (PLINTH_AT_REST_KEY) to encrypt fields at rest.')
  }
  const encrypted = new Set(next.fields.filter((f) => f.encrypt).map((f) => f.name.toLowerCase()))
  if (!encrypted.size) return
  for (const [i, raw] of next.indexes.entries()) {
    const column = parseIndex(raw)?.columns.find((c) => encrypted.has(c.name.toLowerCase()))
    if (column) setError(errors, ['indexes', i], fieldError('validation_invalid_index_expression', `Field ${column.name} is encrypted at rest and cannot be indexed.`))
  }
}
