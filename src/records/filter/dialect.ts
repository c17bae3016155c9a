import { sql, type RawBuilder } from 'kysely'
import type { SqlCapabilities } from '../../sql/sql.ts'

/**
 * The few SQL fragments that differ between engines, chosen by capability (how the engine
 * stores JSON), never by engine name.
 * NB: every fragment takes SQL built elsewhere; none splices a value into text.
 */
export interface FilterDialect {
  /**
   * The items of a JSON array held in `json`, as a FROM item aliased `alias` and the SQL of its
   * value. Used only directly in the FROM of a subquery (correlation works there on every engine).
   */
  arrayElements(json: RawBuilder<unknown>, alias: string): { from: RawBuilder<unknown>; v: RawBuilder<unknown> }
  arrayLength(json: RawBuilder<unknown>): RawBuilder<number>
  /** A value as text, for comparing columns of different types. */
  asText(expr: RawBuilder<unknown>): RawBuilder<string>
  /**
   * Text to compare with `=`, `<`...: byte by byte, as SQLite and PostgreSQL (C collation) do.
   * NB: MariaDB's utf8mb4_bin pads with spaces, so 'x' = 'x ' there: compare binary strings.
   */
  exactText(expr: RawBuilder<unknown>): RawBuilder<unknown>
  /** A text value as a number (non-numbers become 0, NULL stays NULL, never an error). */
  asNumber(expr: RawBuilder<unknown>): RawBuilder<number>
  random(): RawBuilder<unknown>
  /** The SQL literal of a single backslash, for `LIKE ... ESCAPE` (MySQL reads `\\` in literals). */
  likeEscape: RawBuilder<unknown>
  /**
   * A JSON path inside a json column (`[]`: the whole value) as text, the same on every engine:
   * strings unquoted, numbers and booleans (`true`/`false`) as their JSON text, objects and arrays
   * as JSON, JSON null and a missing path as SQL NULL. `path` segments are parameters.
   */
  jsonExtract(json: RawBuilder<unknown>, path: string[]): RawBuilder<unknown>
}

const jsonPath = (path: string[]) => '$' + path.map((p) => (/^\d+$/.test(p) ? `[${p}]` : `."${p.replaceAll('"', '')}"`)).join('')

export function filterDialect(caps: SqlCapabilities): FilterDialect {
  switch (caps.json) {
    case 'json1':
      return {
        arrayElements: (j, a) => ({
          from: sql`json_each(case when json_valid(${j}) then ${j} else '[]' end) as ${sql.id(a)}`,
          v: sql.ref(`${a}.value`),
        }),
        arrayLength: (j) => sql<number>`coalesce(json_array_length(case when json_valid(${j}) then ${j} else '[]' end), 0)`,
        asText: (e) => sql<string>`cast(${e} as text)`,
        exactText: (e) => e,
        asNumber: (e) => sql<number>`cast(${e} as real)`,
        random: () => sql`random()`,
        likeEscape: sql.raw(`'\\'`),
        jsonExtract: (j, path) => {
          const doc = sql`(case when json_valid(${j}) then ${j} else null end)`
          const p = jsonPath(path)
          // json_extract gives SQLite values (true is 1): read the JSON type to give text like the others.
          return sql`(case json_type(${doc}, ${p}) when 'true' then 'true' when 'false' then 'false' when 'null' then null else cast(json_extract(${doc}, ${p}) as text) end)`
        },
      }
    case 'jsonb':
      return {
        // JSON columns are jsonb; text columns holding JSON never reach here.
        arrayElements: (j, a) => ({
          from: sql`jsonb_array_elements_text(coalesce(${j}::jsonb, '[]'::jsonb)) as ${sql.id(a)}(v)`,
          v: sql.ref(`${a}.v`),
        }),
        arrayLength: (j) => sql<number>`coalesce(jsonb_array_length(${j}::jsonb), 0)`,
        asText: (e) => sql<string>`cast(${e} as text)`,
        exactText: (e) => e,
        // NB: a non-numeric text must not raise an error on PostgreSQL: guard with a regex.
        asNumber: (e) =>
          sql<number>`(case when ${e} is null then null when cast(${e} as text) ~ '^\\s*-?[0-9]+(\\.[0-9]+)?\\s*$' then cast(cast(${e} as text) as double precision) else 0 end)`,
        random: () => sql`random()`,
        likeEscape: sql.raw(`'\\'`),
        jsonExtract: (j, path) => sql`(${j}::jsonb #>> ${`{${path.map((p) => p.replaceAll(/[{},"]/g, '')).join(',')}}`}::text[])`,
      }
    case 'mysql-json':
      return {
        arrayElements: (j, a) => ({
          from: sql`json_table(coalesce(${j}, '[]'), '$[*]' columns (v longtext character set utf8mb4 collate utf8mb4_bin path '$')) as ${sql.id(a)}`,
          v: sql.ref(`${a}.v`),
        }),
        arrayLength: (j) => sql<number>`coalesce(json_length(${j}), 0)`,
        asText: (e) => sql<string>`cast(${e} as char)`,
        exactText: (e) => sql`cast(${e} as binary)`,
        asNumber: (e) => sql<number>`(${e} + 0.0)`,
        random: () => sql`rand()`,
        likeEscape: sql.raw(`'\\\\'`),
        // NB: json_unquote turns a JSON null into the text 'null': map it to NULL as the others do.
        jsonExtract: (j, path) =>
          sql`(case when json_type(json_extract(${j}, ${jsonPath(path)})) = 'NULL' then null else json_unquote(json_extract(${j}, ${jsonPath(path)})) end)`,
      }
  }
}
