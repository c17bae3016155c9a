import type { FieldError } from '../../errors.ts'
import type { ValidationCode } from '../../validation-codes.ts'

/** Nested validation errors in PocketBase's shape: `{fields: {"1": {name: {code, message}}}}`. */
export interface ErrorTree {
  [key: string]: FieldError | ErrorTree
}

export function fieldError(code: ValidationCode, message: string): FieldError {
  return { code, message }
}

/** Sets an error at `path` unless one is already there (the first problem wins, as in PocketBase). */
export function setError(tree: ErrorTree, path: (string | number)[], error: FieldError): void {
  let node = tree
  for (const [i, key] of path.entries()) {
    const k = String(key)
    if (i === path.length - 1) {
      if (!(k in node)) node[k] = error
      return
    }
    const next = node[k]
    if (next && 'code' in next && typeof next.code === 'string') return // a parent already failed
    if (!next) node[k] = {}
    node = node[k] as ErrorTree
  }
}

export function hasErrors(tree: ErrorTree): boolean {
  return Object.keys(tree).length > 0
}

// ozzo-validation's generic errors, as PocketBase reports them.
export const required = () => fieldError('validation_required', 'Cannot be blank.')
export const minValue = (threshold: number | string) => fieldError('validation_min_greater_equal_than_required', `Must be no less than ${threshold}.`)
export const maxValue = (threshold: number | string) => fieldError('validation_max_less_equal_than_required', `Must be no greater than ${threshold}.`)
export const lengthRange = (min: number, max: number) => fieldError('validation_length_out_of_range', `The length must be between ${min} and ${max}.`)
export const badFormat = () => fieldError('validation_match_invalid', 'Must be in a valid format.')
export const notIn = () => fieldError('validation_not_in_invalid', 'Must not be in list.')
export const mustBeBlank = () => fieldError('validation_empty', 'Must be blank.')
export const mustBeNil = () => fieldError('validation_nil', 'Must be blank.')
export const notAllowedValue = () => fieldError('validation_in_invalid', 'Must be a valid value.')
