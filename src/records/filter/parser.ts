import { filterError, tokenize, type SignOp, type Token } from './lexer.ts'

export type Operand =
  | { kind: 'string'; value: string }
  | { kind: 'number'; value: number }
  | { kind: 'bool'; value: boolean }
  | { kind: 'null' }
  | { kind: 'ident'; name: string }
  /** `name(arg, ...)`, written with no space before `(` (PocketBase's grammar). */
  | { kind: 'call'; name: string; args: Operand[] }

export type Expr =
  | { kind: 'compare'; op: SignOp; left: Operand; right: Operand }
  | { kind: 'and' | 'or'; items: Expr[] }

/** The longest filter accepted, so a hostile one cannot make the server parse megabytes. */
export const MAX_FILTER_LENGTH = 3500

/** The most comparisons one filter may hold (PocketBase's DefaultFilterExprLimit). */
export const MAX_FILTER_EXPRESSIONS = 200

/** Function calls nest at most this deep, with at most this many arguments (PocketBase's limits). */
export const MAX_CALL_DEPTH = 3
export const MAX_CALL_ARGS = 10

/**
 * Parses a filter into a tree. `&&` binds tighter than `||`, as in PocketBase.
 * Returns undefined for an empty filter (or one of only comments).
 */
export function parseFilter(input: string): Expr | undefined {
  if (input.length > MAX_FILTER_LENGTH) throw filterError(`longer than ${MAX_FILTER_LENGTH} characters`)
  const tokens = tokenize(input)
  if (tokens.length === 0) return undefined
  let i = 0
  const peek = (): Token | undefined => tokens[i]
  let depth = 0
  let comparisons = 0

  const call = (name: string, open: Token, callDepth: number): Operand => {
    if (callDepth > MAX_CALL_DEPTH) throw filterError(`functions nested deeper than ${MAX_CALL_DEPTH} at ${open.pos}`)
    const args: Operand[] = []
    if (peek()?.kind === 'paren' && peek()!.value === ')') {
      i++
      return { kind: 'call', name, args }
    }
    for (;;) {
      args.push(operand(callDepth))
      if (args.length > MAX_CALL_ARGS) throw filterError(`more than ${MAX_CALL_ARGS} arguments in "${name}"`)
      const t = tokens[i++]
      if (t?.kind === 'comma') continue
      if (t?.kind === 'paren' && t.value === ')') return { kind: 'call', name, args }
      throw filterError(`missing ")" for "${name}(" at ${open.pos}`)
    }
  }

  const operand = (callDepth = 0): Operand => {
    const t = tokens[i++]
    if (!t) throw filterError('expression ends where an operand was expected')
    const next = tokens[i]
    if (t.kind === 'ident' && next?.kind === 'paren' && next.value === '(' && next.pos === t.pos + t.value.length) {
      i++
      return call(t.value, next, callDepth + 1)
    }
    switch (t.kind) {
      case 'string':
        return { kind: 'string', value: t.value }
      case 'number':
        return { kind: 'number', value: t.value }
      case 'ident':
        if (t.value === 'true' || t.value === 'false') return { kind: 'bool', value: t.value === 'true' }
        if (t.value === 'null') return { kind: 'null' }
        return { kind: 'ident', name: t.value }
      default:
        throw filterError(`expected an operand at ${t.pos}`)
    }
  }

  const term = (): Expr => {
    const t = peek()
    if (t?.kind === 'paren' && t.value === '(') {
      i++
      if (++depth > 32) throw filterError('too deeply nested')
      const inner = orExpr()
      const close = tokens[i++]
      if (close?.kind !== 'paren' || close.value !== ')') throw filterError(`missing ")" for "(" at ${t.pos}`)
      depth--
      return inner
    }
    if (++comparisons > MAX_FILTER_EXPRESSIONS) throw filterError(`more than ${MAX_FILTER_EXPRESSIONS} expressions`)
    const left = operand()
    const op = tokens[i++]
    if (op?.kind !== 'op') throw filterError(op ? `expected an operator at ${op.pos}` : 'expression ends where an operator was expected')
    const right = operand()
    return { kind: 'compare', op: op.value, left, right }
  }

  const andExpr = (): Expr => {
    const items = [term()]
    while (peek()?.kind === 'join' && peek()!.value === '&&') {
      i++
      items.push(term())
    }
    return items.length === 1 ? items[0]! : { kind: 'and', items }
  }

  const orExpr = (): Expr => {
    const items = [andExpr()]
    while (peek()?.kind === 'join' && peek()!.value === '||') {
      i++
      items.push(andExpr())
    }
    return items.length === 1 ? items[0]! : { kind: 'or', items }
  }

  const expr = orExpr()
  const rest = peek()
  if (rest) throw filterError(`unexpected "${String(rest.value)}" at ${rest.pos}`)
  return expr
}
