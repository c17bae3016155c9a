import { parseArgs } from 'node:util'
import { ConfigError } from '../config/errors.ts'
import { serve } from './serve.ts'
import { printConfig } from './config.ts'
import { migrateCommand } from './migrate.ts'
import { superuserCommand } from './superuser.ts'

const usage = `Usage: plinth <command> [options]

Commands:
  serve      start the HTTP API (and everything else) on 127.0.0.1:8090
  config     print the effective configuration, secrets masked
  migrate    apply pending migrations and exit
  superuser  create|upsert|update|delete EMAIL [PASSWORD]: manage superusers

Options:
  --http HOST:PORT   where to listen (default 127.0.0.1:8090)
  --dir PATH         data folder (default ./plinth_data)
  --config FILE      config file (default plinth.config.{json,yaml} if present)
  --app FILE         app module (default plinth.app.ts or .js beside the config, if present)
  -h, --help         this text
`

/** Flags shared by every command. */
export interface CliFlags {
  http?: string
  dir?: string
  config?: string
  app?: string
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      http: { type: 'string' },
      dir: { type: 'string' },
      config: { type: 'string' },
      app: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  })
  const [command = 'help'] = positionals
  if (values.help || command === 'help') {
    process.stdout.write(usage)
    return 0
  }
  switch (command) {
    case 'serve':
      return serve(values)
    case 'config':
      return printConfig(values)
    case 'migrate':
      return migrateCommand(values)
    case 'superuser':
      return superuserCommand(values, positionals.slice(1))
    default:
      process.stderr.write(`plinth: unknown command "${command}"\n\n${usage}`)
      return 2
  }
}

try {
  const code = await main(process.argv.slice(2))
  if (code !== 0 || process.argv[2] !== 'serve') process.exitCode = code
} catch (err) {
  if (err instanceof ConfigError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
    process.stderr.write(`plinth: ${(err as Error).message}\n`)
    process.exitCode = 2
  } else {
    process.stderr.write(`plinth: ${(err as Error).stack ?? String(err)}\n`)
    process.exitCode = 1
  }
}
