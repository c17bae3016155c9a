import type { Collection, Field } from '../model.ts'
import { randomFromPattern } from '../fields/random.ts'
import { validateTextValue } from '../fields/text-rules.ts'
import { fieldError, lengthRange, maxValue, minValue, mustBeBlank, notIn, badFormat, required, setError, type ErrorTree } from './errors.ts'

/** Per-field settings checks (PocketBase's `ValidateSettings`), reported under `fields.{i}.{option}`. */

const RESERVED_NAMES = ['null', 'true', 'false', '_rowid_', 'collectionId', 'collectionName', 'expand']
const THUMB = /^(\d+)x(\d+)(t|b|f)?$/
const MAX_SAFE = Number.MAX_SAFE_INTEGER
/** Field types that take Plinth's `sensitive` mark (values a client sends as one JSON scalar or document). */
const SENSITIVE_TYPES: readonly Field['type'][] = ['text', 'email', 'number', 'json']

function isRegex(p: string): boolean {
  try {
    new RegExp(p)
    return true
  } catch {
    return false
  }
}

export interface FieldContext {
  next: Collection
  prev: Collection | undefined
  lookup: (idOrName: string) => Collection | undefined
}

export function validateFieldSettings(f: Field, i: number, ctx: FieldContext, errors: ErrorTree): void {
  const at = (prop: string, e: ReturnType<typeof fieldError>) => setError(errors, ['fields', i, prop], e)
  if (!f.id) at('id', required())
  else if (f.id.length > 100) at('id', lengthRange(1, 100))
  if (!f.name) at('name', required())
  else if (f.name.length > 100) at('name', lengthRange(1, 100))
  else if (!/^\w+$/.test(f.name)) at('name', badFormat())
  else if (RESERVED_NAMES.includes(f.name)) at('name', notIn())
  else if (f.name.toLowerCase().includes('_via_')) at('name', fieldError('validation_found_via', 'The value cannot contain "_via_".'))

  if (f.sensitive && (!SENSITIVE_TYPES.includes(f.type) || (f.type === 'text' && f.primaryKey))) {
    at('sensitive', fieldError('validation_invalid_value', 'Only text (not the primary key), email, number and json fields can be marked sensitive.'))
  }

  const oldField = ctx.prev?.fields.find((o) => o.id === f.id)
  switch (f.type) {
    case 'text': {
      if (f.primaryKey && f.name !== 'id') at('name', fieldError('validation_in_invalid', 'The primary key must be named "id".'))
      if (f.primaryKey && ctx.next.fields.filter((x) => x.type === 'text' && x.primaryKey).length > 1) {
        at('primaryKey', fieldError('validation_unsupported_composite_pk', 'Composite PKs are not supported and the collection must have only 1 PK.'))
      }
      if (f.min < 0) at('min', minValue(0))
      if (f.max !== 0 && f.max < f.min) at('max', minValue(f.min))
      if (f.min > MAX_SAFE) at('min', maxValue(MAX_SAFE))
      if (f.primaryKey && !f.pattern) at('pattern', required())
      else if (f.pattern && !isRegex(f.pattern)) at('pattern', fieldError('validation_invalid_regex', 'Invalid regular expression.'))
      if (f.primaryKey && f.hidden) at('hidden', mustBeBlank())
      if (f.primaryKey && !f.required) at('required', required())
      if (f.autogeneratePattern) {
        for (let n = 0; n < 10; n++) {
          let generated: string
          try {
            generated = randomFromPattern(f.autogeneratePattern)
          } catch (err) {
            at('autogeneratePattern', fieldError('validation_invalid_autogenerate_pattern', (err as Error).message))
            break
          }
          if (validateTextValue(f, generated)) {
            at('autogeneratePattern', fieldError('validation_invalid_autogenerate_pattern_value', `The provided autogenerate pattern could produce invalid field values, ex.: "${generated}"`))
            break
          }
        }
      }
      break
    }
    case 'number': {
      const notInt = (v: number | null) => f.onlyInt && v !== null && !Number.isInteger(v)
      const onlyInt = fieldError('validation_only_int_constraint', 'Decimal numbers are not allowed')
      if (notInt(f.min)) at('min', onlyInt)
      if (notInt(f.max)) at('max', onlyInt)
      else if (f.min !== null && f.max !== null && f.max < f.min) at('max', fieldError('validation_min_number_constraint', `Must be greater or equal than ${f.min}`))
      break
    }
    case 'email':
    case 'url': {
      const domain = /^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,}$/i
      if (f.onlyDomains?.length && f.exceptDomains?.length) {
        at('exceptDomains', mustBeBlank())
        at('onlyDomains', mustBeBlank())
      }
      for (const key of ['exceptDomains', 'onlyDomains'] as const) {
        const bad = (f[key] ?? []).findIndex((d) => !domain.test(d))
        if (bad >= 0) setError(errors, ['fields', i, key, bad], fieldError('validation_is_domain', 'Must be a valid domain.'))
      }
      break
    }
    case 'editor':
    case 'json':
      if (f.maxSize < 0) at('maxSize', minValue(0))
      break
    case 'date':
      if (f.min && Number.isNaN(Date.parse(f.min.replace(' ', 'T')))) at('min', fieldError('validation_invalid_date', 'Must be a valid date.'))
      if (f.max && Number.isNaN(Date.parse(f.max.replace(' ', 'T')))) at('max', fieldError('validation_invalid_date', 'Must be a valid date.'))
      else if (f.min && f.max && Date.parse(f.max.replace(' ', 'T')) < Date.parse(f.min.replace(' ', 'T'))) {
        at('max', fieldError('validation_date_out_of_range', 'The date is out of the allowed range.'))
      }
      break
    case 'autodate': {
      if (!f.onCreate && !f.onUpdate) {
        at('onCreate', fieldError('validation_required', 'either onCreate or onUpdate must be enabled'))
        at('onUpdate', fieldError('validation_required', 'either onCreate or onUpdate must be enabled'))
      }
      if (f.system && oldField?.type === 'autodate') {
        if (oldField.onCreate !== f.onCreate) at('onCreate', fieldError('validation_values_mismatch', "Values don't match."))
        if (oldField.onUpdate !== f.onUpdate) at('onUpdate', fieldError('validation_values_mismatch', "Values don't match."))
      }
      break
    }
    case 'select':
      if (!f.values.length) at('values', required())
      if (f.maxSelect < 0) at('maxSelect', minValue(0))
      else if (f.maxSelect > Math.max(f.values.length, 1)) at('maxSelect', maxValue(Math.max(f.values.length, 1)))
      break
    case 'relation': {
      if (!f.collectionId) at('collectionId', required())
      else {
        if (oldField?.type === 'relation' && oldField.collectionId !== f.collectionId) {
          at('collectionId', fieldError('validation_field_relation_change', 'The relation collection cannot be changed.'))
        }
        const target = ctx.lookup(f.collectionId)
        if (!target || target.id !== f.collectionId) {
          at('collectionId', fieldError('validation_field_relation_missing_collection', "The relation collection doesn't exist."))
        } else if (ctx.next.type !== 'view' && target.type === 'view') {
          at('collectionId', fieldError('validation_relation_field_non_view_base_collection', 'Only view collections are allowed to have relations to other views.'))
        }
      }
      if (f.minSelect < 0) at('minSelect', minValue(0))
      if (f.minSelect > 0 && !f.maxSelect) at('maxSelect', required())
      else if (f.maxSelect && f.maxSelect < f.minSelect) at('maxSelect', minValue(f.minSelect))
      break
    }
    case 'file':
      if (f.maxSelect < 0) at('maxSelect', minValue(0))
      if (f.maxSize < 0) at('maxSize', minValue(0))
      f.thumbs.forEach((t, n) => {
        if (!THUMB.test(t)) setError(errors, ['fields', i, 'thumbs', n], badFormat())
        else if (['0x0', '0x0t', '0x0b', '0x0f'].includes(t)) setError(errors, ['fields', i, 'thumbs', n], notIn())
      })
      break
    case 'password':
      if (f.min && (f.min < 1 || f.min > 71)) at('min', f.min < 1 ? minValue(1) : maxValue(71))
      if (f.max && f.max < f.min) at('max', minValue(f.min))
      else if (f.max > 71) at('max', maxValue(71))
      if (f.cost && (f.cost < 4 || f.cost > 31)) at('cost', f.cost < 4 ? minValue(4) : maxValue(31))
      if (f.pattern && !isRegex(f.pattern)) at('pattern', fieldError('validation_invalid_regex', 'Invalid regular expression.'))
      break
    case 'bool':
      break
  }
}
