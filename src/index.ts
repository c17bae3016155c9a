/** Plinth as a library: `import { createPlinth } from 'plinth'`. */
export { createPlinth, type Plinth, type CreateOptions } from './app.ts'
export { loadConfig, ConfigError, type LoadOptions } from './config/load.ts'
export type { PlinthConfig } from './config/schema.ts'
export { ApiError, validationError, type ErrorCode, type FieldError } from './errors.ts'
export type { SqlEngine, SqlCapabilities } from './sql/sql.ts'
export { RecordHooks, type RecordCreateEvent, type RecordUpdateEvent, type RecordDeleteEvent, type RecordSuccessEvent, type RecordErrorEvent, type Next } from './records/hooks.ts'
export type { RecordJson, RequestInfo, AuthInfo } from './records/record.ts'
export type { Collection, Field } from './records/model.ts'
