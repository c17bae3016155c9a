import { createRequire } from 'node:module'
import type { FastifyInstance, FastifySchemaCompiler } from 'fastify'

type ValidateFunction = ((data: unknown, context?: unknown) => unknown) & { errors?: unknown; schemaEnv?: unknown }
type BuildCompiler = (externalSchemas: unknown, options: { customOptions: object; plugins: unknown[] }) => (route: unknown) => ValidateFunction

/**
 * Plinth's own routes compile their request validators on first use, not at start-up: compiling
 * every route's schemas with Ajv (and creating Ajv itself) took ~80 ms of each `plinth serve`.
 * The validator is the one Fastify builds by default (@fastify/ajv-compiler, Fastify's default
 * Ajv options: Plinth passes none), built from the same schema when its route is first requested.
 * Routes added after `done()` (the app module's) and routes with a `headers` schema (Fastify
 * lower-cases those before compiling, only on its default path) keep Fastify's eager compile.
 */
export function compileValidatorsOnFirstUse(http: FastifyInstance): { done(): void } {
  let active = true
  // Fastify's own copy, so it is exactly the compiler Fastify would use.
  const fromFastify = createRequire(createRequire(import.meta.url).resolve('fastify'))
  const AjvCompiler = fromFastify('@fastify/ajv-compiler') as () => BuildCompiler
  const pool = AjvCompiler()
  http.addHook('onRoute', function (route) {
    if (!active || !route.schema || route.validatorCompiler || route.schema.headers !== undefined) return
    const externalSchemas = this.getSchemas()
    const compiler: FastifySchemaCompiler<unknown> = (definition) => {
      let compiled: ValidateFunction | undefined
      const validate: ValidateFunction = (data, context) => {
        compiled ??= pool(externalSchemas, { customOptions: {}, plugins: [] })(definition)
        const result = compiled(data, context)
        validate.errors = compiled.errors
        return result
      }
      // Fastify passes the parent object (so Ajv may coerce a root value) only to a function
      // that has this: every Ajv validator does.
      validate.schemaEnv = true
      return validate as ReturnType<FastifySchemaCompiler<unknown>>
    }
    route.validatorCompiler = compiler
  })
  return {
    done() {
      active = false
    },
  }
}
