import type { SignOp } from './lexer.ts'
import { macroValue } from './macros.ts'
import type { Expr, Operand } from './parser.ts'
import type { FilterScope } from './scope.ts'

const negativeOps = new Set<SignOp>(['!=', '?!=', '!~', '?!~'])
const guestTrue: Expr = { kind: 'compare', op: '=', left: { kind: 'number', value: 1 }, right: { kind: 'number', value: 1 } }
const guestFalse: Expr = { kind: 'compare', op: '=', left: { kind: 'number', value: 1 }, right: { kind: 'number', value: 0 } }

const isGuestAuth = (o: Operand) => o.kind === 'ident' && o.name.startsWith('@request.auth.')

/** Operands known before any row is read: literals, macros and the request's own plain values. */
function isRequestConstant(o: Operand): boolean {
  if (o.kind !== 'ident') return true
  if (macroValue(o.name) !== undefined) return true
  return /^@request\.(method|context|auth\.[\w:]+|(headers|query|body)\.[\w:]+)$/.test(o.name)
}

/**
 * For a guest, a comparison of `@request.auth.*` with a field (or anything read from rows) never
 * matches: `=`, `?=`, `~`, `<` ... are false, `!=`, `?!=`, `!~`, `?!~` true, so a guest is no owner
 * of the records whose owner is empty (a deleted user's). Compared with a literal or another request
 * value it still reads as '' (`@request.auth.id = ''` holds for guests). Stricter than PocketBase,
 * where a guest's empty id equals an empty field.
 */
export function guardGuestAuth(tree: Expr, scope: FilterScope): Expr {
  if (scope.request.auth) return tree
  const walk = (e: Expr): Expr => {
    if (e.kind !== 'compare') return { kind: e.kind, items: e.items.map(walk) }
    const left = isGuestAuth(e.left) && !isRequestConstant(e.right)
    const right = isGuestAuth(e.right) && !isRequestConstant(e.left)
    if (!left && !right) return e
    // The original comparison stays in (neutralised) so its fields are still checked: a rule is
    // validated as a guest's, and a typo on the other side must still be an error.
    return negativeOps.has(e.op) ? { kind: 'or', items: [guestTrue, e] } : { kind: 'and', items: [guestFalse, e] }
  }
  return walk(tree)
}
