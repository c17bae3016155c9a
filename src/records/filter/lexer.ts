import { ApiError } from '../../errors.ts'

/**
 * Tokens of PocketBase's filter language. Hand-written: the grammar is small, and a library
 * would not give messages that point at the offending character.
 */
export type Token =
  | { kind: 'string'; value: string; pos: number }
  | { kind: 'number'; value: number; pos: number }
  | { kind: 'ident'; value: string; pos: number }
  | { kind: 'op'; value: SignOp; pos: number }
  | { kind: 'join'; value: '&&' | '||'; pos: number }
  | { kind: 'paren'; value: '(' | ')'; pos: number }
  | { kind: 'comma'; value: ','; pos: number }

export const signOps = ['=', '!=', '>', '>=', '<', '<=', '~', '!~', '?=', '?!=', '?>', '?>=', '?<', '?<=', '?~', '?!~'] as const
export type SignOp = (typeof signOps)[number]

const opStarts = new Set(['=', '!', '>', '<', '~', '?'])
const identChar = /[A-Za-z0-9_@.:#*]/

export function filterError(message: string): ApiError {
  return new ApiError('invalid_filter', `Invalid filter: ${message}`)
}

export function tokenize(input: string): Token[] {
  const tokens: Token[] = []
  let i = 0
  while (i < input.length) {
    const c = input[i]!
    if (/\s/.test(c)) {
      i++
      continue
    }
    if (c === '/' && input[i + 1] === '/') {
      // A comment runs to the end of the line.
      while (i < input.length && input[i] !== '\n') i++
      continue
    }
    const pos = i
    if (c === '"' || c === "'") {
      // PocketBase's rule: a quote after a backslash does not end the text, and `\'` reads as `'`;
      // every other backslash stays as written (so `~ '100\%'` keeps its LIKE escape).
      let j = i + 1
      while (j < input.length && !(input[j] === c && input[j - 1] !== '\\')) j++
      if (j >= input.length) throw filterError(`unterminated string starting at ${pos}`)
      const value = input.slice(i + 1, j).replaceAll(`\\${c}`, c)
      i = j + 1
      tokens.push({ kind: 'string', value, pos })
      continue
    }
    if (/[0-9]/.test(c) || (c === '-' && /[0-9]/.test(input[i + 1] ?? ''))) {
      const m = /^-?[0-9]+(\.[0-9]+)?/.exec(input.slice(i))!
      tokens.push({ kind: 'number', value: Number(m[0]), pos })
      i += m[0].length
      continue
    }
    if (c === ',') {
      tokens.push({ kind: 'comma', value: c, pos })
      i++
      continue
    }
    if (c === '(' || c === ')') {
      tokens.push({ kind: 'paren', value: c, pos })
      i++
      continue
    }
    if ((c === '&' && input[i + 1] === '&') || (c === '|' && input[i + 1] === '|')) {
      tokens.push({ kind: 'join', value: c === '&' ? '&&' : '||', pos })
      i += 2
      continue
    }
    if (opStarts.has(c)) {
      const op = [...signOps].sort((a, b) => b.length - a.length).find((o) => input.startsWith(o, i))
      if (!op) throw filterError(`unknown operator at ${pos}`)
      tokens.push({ kind: 'op', value: op, pos })
      i += op.length
      continue
    }
    if (identChar.test(c)) {
      let j = i
      while (j < input.length && identChar.test(input[j]!)) j++
      tokens.push({ kind: 'ident', value: input.slice(i, j), pos })
      i = j
      continue
    }
    throw filterError(`unexpected character "${c}" at ${pos}`)
  }
  return tokens
}
