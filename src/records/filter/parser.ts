import { filterError, tokenize, type SignOp, type Token } from './lexer.ts'

export type Operand =
  | { kind: 'string'; value: string }
  | { kind: 'number'; value: number }
  | { kind: 'bool'; value: boolean }
  | { kind: 'null' }
  | { kind: 'ident'; name: string }

export type Expr =
  | { kind: 'compare'; op: SignOp; left: Operand; right: Operand }
  | { kind: 'and' | 'or'; items: Expr[] }

/** The longest filter accepted, so a hostile one cannot make the server parse megabytes. */
export const MAX_FILTER_LENGTH = 3500

/** The most comparisons one filter may hold (PocketBase's DefaultFilterExprLimit). */
export const MAX_FILTER_EXPRESSIONS = 200

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

  const operand = (): Operand => {
    const t = tokens[i++]
    if (!t) throw filterError('expression ends where an operand was expected')
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
