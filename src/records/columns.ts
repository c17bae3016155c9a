import type { ColumnSpec, SqlDdl, StorageKind } from '../sql/dialect.ts'
import { isMulti, type Field } from './model.ts'

export { ROWID_COLUMN } from '../sql/dialect.ts'
export type { ColumnSpec, StorageKind }

/**
 * How a field is stored, following the storage conventions in model.ts. The SQL of each kind is
 * the engine dialect's (`SqlDdl.column`); records only decide which kind a field is.
 */
export function storageKind(field: Field): StorageKind {
  if (field.type === 'text' && field.primaryKey) return 'primary-key'
  if (isMulti(field)) return 'json-array'
  switch (field.type) {
    case 'number':
      return 'number'
    case 'bool':
      return 'bool'
    case 'json':
      return 'json'
    case 'geoPoint':
      return 'geo-point'
    default:
      return 'text'
  }
}

/** The column type and constraints for a field, e.g. for `addColumn(name, spec.type, spec.build)`. */
export function columnSpec(field: Field, ddl: Pick<SqlDdl, 'column'>): ColumnSpec {
  return ddl.column(storageKind(field))
}
