/** Plinth as a library: `import { createPlinth } from 'plinth'`. */
export { createPlinth, type Plinth, type CreateOptions } from './app.ts'
export { loadConfig, ConfigError, type LoadOptions } from './config/load.ts'
export type { PlinthConfig } from './config/schema.ts'
export { ApiError, validationError, type ErrorCode, type FieldError } from './errors.ts'
export type { SqlEngine, SqlCapabilities } from './sql/sql.ts'
