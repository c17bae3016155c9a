import { createRequire } from 'node:module'
import type { FastifyServerOptions } from 'fastify'

type Fn = ((...args: unknown[]) => unknown) & { errors?: unknown; schemaEnv?: unknown }
type Definition = { schema: unknown; method?: string; url?: string; httpPart?: string }
type Factory = (externalSchemas: unknown, options: unknown) => (definition: Definition) => Fn

/** Requires a module as Fastify itself resolves it, so it is the very copy Fastify would use. */
const fromFastify = (id: string): unknown => {
  const require = createRequire(import.meta.url)
  return createRequire(require.resolve('fastify'))(id)
}

/**
 * Fastify's default schema compilers (@fastify/ajv-compiler for requests,
 * @fastify/fast-json-stringify-compiler for responses), loaded and run on first use instead of at
 * start-up: Fastify requires Ajv when it is created (~100 ms of module loading) and compiles every
 * route's schemas before it listens (~80 ms more for Plinth's routes). Each route's validator is
 * now compiled from the same schema, with the same options, the first time its route is
 * requested; a schema error surfaces there (as a 500) instead of at start. Pass as Fastify's
 * `schemaController.compilersFactory`; app code may still set its own compilers.
 */
export function lazySchemaCompilers(): NonNullable<NonNullable<FastifyServerOptions['schemaController']>['compilersFactory']> {
  let validators: Factory | undefined
  let serializers: Factory | undefined
  const ajvCompiler = (): Factory => (validators ??= (fromFastify('@fastify/ajv-compiler') as () => Factory)())
  const fjsCompiler = (): Factory => (serializers ??= (fromFastify('@fastify/fast-json-stringify-compiler') as () => Factory)())
  const factories: Record<'buildValidator' | 'buildSerializer', Factory> = {
    buildValidator(externalSchemas, options) {
      let compile: ReturnType<Factory> | undefined
      return (definition) => {
        // A compiler given this way counts as custom, so Fastify hands header schemas over as
        // written; lower-case their names as Fastify does for its own compiler.
        const def = definition.httpPart === 'headers' ? { ...definition, schema: lowerCaseHeaders(definition) } : definition
        let fn: Fn | undefined
        const validate: Fn = (...args) => {
          compile ??= ajvCompiler()(externalSchemas, options)
          fn ??= compile(def)
          const result = fn(...args)
          validate.errors = fn.errors
          return result
        }
        // Fastify passes the parent object (so Ajv may coerce a root value) only to a function
        // that has this, as every Ajv validator does.
        validate.schemaEnv = true
        return validate
      }
    },
    buildSerializer(externalSchemas, options) {
      let compile: ReturnType<Factory> | undefined
      return (definition) => {
        let fn: Fn | undefined
        return (...args) => {
          compile ??= fjsCompiler()(externalSchemas, options)
          fn ??= compile(definition)
          return fn(...args)
        }
      }
    },
  }
  // Fastify's types describe these factories as Ajv's compile(schema); at run time it calls them
  // with the route's definition ({ schema, method, url, httpPart }), as typed here.
  return factories as unknown as ReturnType<typeof lazySchemaCompilers>
}

/** A headers schema as Fastify normalises it for its default compiler (lib/validation.js). */
function lowerCaseHeaders(definition: Definition): unknown {
  const validation = fromFastify('fastify/lib/validation.js') as {
    compileSchemasForValidation(context: object, compile: (d: Definition) => unknown, isCustom: boolean): void
    symbols: { headersSchema: symbol }
  }
  const context: Record<string | symbol, unknown> = { schema: { headers: definition.schema }, config: { method: definition.method, url: definition.url } }
  validation.compileSchemasForValidation(context, (d) => d.schema, false)
  return context[validation.symbols.headersSchema]
}
