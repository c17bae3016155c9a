import type { RawBuilder, SqlBool } from 'kysely'

/** How a value compares: numbers numerically, booleans as booleans, everything else as text. */
export type Kind = 'text' | 'number' | 'bool' | 'json'

/**
 * A resolved operand of a comparison:
 * - `const`: known at compile time (literals, macros, `@request.*`): bound as a parameter, or
 *   folded away when both sides are constants;
 * - `col`: one SQL value per row of the main table (a column, a relation's field as a subquery);
 * - `set`: several values per row (a multi field's items, a multi relation's or back-relation's
 *   rows, `@collection`): `exists(p)` is SQL that is true when some value `v` satisfies `p(v)`.
 *   Sets compose as nested EXISTS, never as correlated derived tables (MariaDB has no LATERAL).
 */
export type Predicate = (v: RawBuilder<unknown>) => RawBuilder<SqlBool>

export type Resolved =
  | { t: 'const'; value: string | number | boolean | null }
  | { t: 'col'; sql: RawBuilder<unknown>; kind: Kind; nullable: boolean }
  | {
      t: 'set'
      exists: (p: Predicate) => RawBuilder<SqlBool>
      kind: Kind
      anyOnly: boolean
      /** A multi field named without `:each`: its stored JSON text, which plain `~`/`!~` match (as PocketBase). */
      raw?: RawBuilder<unknown>
      /**
       * For `@collection` values, whose `exists` reads the one joined row of their alias: the same
       * test over every row of the collection, independently, which plain operators need (every
       * row must match, PocketBase's multi-match).
       */
      scan?: (p: Predicate) => RawBuilder<SqlBool>
    }
