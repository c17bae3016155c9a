import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { StartupError } from '../config/errors.ts'
import { superuserUsage } from './superuser-usage.ts'
import { filesUsage } from './files-usage.ts'
import { keysUsage } from './keys-usage.ts'
import { dbUsage } from './db-usage.ts'
import { backupUsage } from './backup-usage.ts'
import { deployUsage } from './deploy-usage.ts'

const commonOptions = `Options:
  --http HOST:PORT   where to listen (default 127.0.0.1:8090; :PORT = every interface)
  --dir PATH         data folder (default ./plinth_data)
  --config FILE      config file (default plinth.config.{json,yaml} if present)
  -h, --help         help for the command
`

const usage = `Usage: plinth <command> [options]

Commands:
  serve      start the HTTP API (and everything else) on 127.0.0.1:8090
  worker     run background jobs and cron only (no HTTP)
  config     print the effective configuration, secrets masked
  migrate    apply pending migrations and exit
  superuser  create|upsert|update|delete EMAIL [PASSWORD]: manage superusers
  files      copy --to URL: copy every stored file to another files engine;
             cleanup [--dry-run]: remove files no record holds
  keys       rotate: a new RSA key for sensitive fields (the old one decrypts for a grace period)
  db         status | switch-primary URL | copy --to URL: database instances, replicas, DR, copies
  backup     create [NAME] | list | restore KEY: backups in the files port (_backups/)
  deploy     nginx | systemd | rollout | autoscale | release | rollback: cluster config and deploys
  help       help for a command: plinth help serve

${commonOptions}  --app FILE         app module (serve; default plinth.app.ts or .js beside the config)
  -v, --version      print the version
`

/** Each command's own help (`plinth help CMD`, `plinth CMD --help`). */
const commandHelp: Record<string, string> = {
  serve: `Usage: plinth serve [options]

Starts the HTTP API on --http (default 127.0.0.1:8090, this machine only; --http :8090 or
0.0.0.0:8090 listens on every interface). Applies pending migrations first. Stops gracefully on
SIGTERM or SIGINT. Every setting may also come from the config file or PLINTH_* variables.

${commonOptions}  --app FILE         app module (default plinth.app.ts or .js beside the config, if present)
  --https CERT,KEY   serve TLS with these PEM files; --https=dev makes a self-signed one for localhost
  --no-worker        do not run background jobs and cron in this process (run \`plinth worker\` elsewhere)
`,
  worker: `Usage: plinth worker [options]

Runs the app module's background jobs and cron schedules, without the HTTP API: a dedicated job
node. Uses the same queue as serve (PLINTH_QUEUE: sql:// by default, or redis://...). Stops
gracefully on SIGTERM or SIGINT: running jobs get shutdownTimeout to finish, then are handed back.

${commonOptions}  --app FILE         app module (default plinth.app.ts or .js beside the config, if present)
`,
  config: `Usage: plinth config [options]

Prints the effective configuration (defaults, file, PLINTH_* variables, flags) as JSON, secrets masked.

${commonOptions}`,
  migrate: `Usage: plinth migrate [options]

Applies pending system migrations and exits (serve does this on start too). Safe to run from
several nodes at once: each migration is applied exactly once.

${commonOptions}`,
  superuser: `${superuserUsage}
${commonOptions}`,
  files: `${filesUsage}${commonOptions}`,
  keys: `${keysUsage}
${commonOptions}`,
}
commandHelp.db = `${dbUsage}
${commonOptions}`
commandHelp.backup = `${backupUsage}
${commonOptions}`
commandHelp.deploy = deployUsage
commandHelp.help = usage

/** Flags shared by every command. */
export interface CliFlags {
  http?: string
  dir?: string
  config?: string
  app?: string
  /** serve: `dev` or `CERT,KEY` (config `https`). */
  https?: string
  /** serve: no worker in this process. */
  noWorker?: boolean
  /** files copy, db copy: the target URL. */
  to?: string
  /** db copy: the source database URL (default: the configured db). */
  from?: string
  /** db copy, backup restore: replace a non-empty target. */
  force?: boolean
  /** files cleanup: report, remove nothing. */
  dryRun?: boolean
  /** files cleanup: the grace period (30m, 2h, 7d). */
  grace?: string
}

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
  return pkg.version
}

async function main(argv: string[]): Promise<number> {
  // `deploy` has flags of its own (--nodes, --restart, ...): it parses its arguments itself.
  if (argv[0] === 'deploy' && !argv.includes('--help') && !argv.includes('-h')) return (await import('./deploy.ts')).deployCommand(argv.slice(1))
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      http: { type: 'string' },
      dir: { type: 'string' },
      config: { type: 'string' },
      app: { type: 'string' },
      https: { type: 'string' },
      to: { type: 'string' },
      from: { type: 'string' },
      force: { type: 'boolean' },
      'no-worker': { type: 'boolean' },
      'dry-run': { type: 'boolean' },
      grace: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
      version: { type: 'boolean', short: 'v' },
    },
  })
  const { help, version: wantsVersion, 'no-worker': noWorker, 'dry-run': dryRun, ...rest } = values
  const flags: CliFlags = { ...rest, ...(noWorker ? { noWorker } : {}), ...(dryRun ? { dryRun } : {}) }
  if (wantsVersion) {
    process.stdout.write(`plinth ${version()}\n`)
    return 0
  }
  const [command = 'help', topic] = positionals
  if (command === 'help' || help) {
    const about = command === 'help' ? topic : command
    if (about === undefined) {
      process.stdout.write(usage)
      return 0
    }
    const text = commandHelp[about]
    if (!text) {
      process.stderr.write(`plinth: unknown command "${about}"\n\n${usage}`)
      return 2
    }
    process.stdout.write(text)
    return 0
  }
  // Each command's module is loaded when it runs: `plinth config` or `superuser` need not load
  // the HTTP server, and every command starts faster.
  switch (command) {
    case 'serve':
      return (await import('./serve.ts')).serve(flags)
    case 'worker':
      return (await import('./worker.ts')).worker(flags)
    case 'config':
      return (await import('./config.ts')).printConfig(flags)
    case 'migrate':
      return (await import('./migrate.ts')).migrateCommand(flags)
    case 'superuser':
      return (await import('./superuser.ts')).superuserCommand(flags, positionals.slice(1))
    case 'files':
      return (await import('./files.ts')).filesCommand(flags, positionals.slice(1))
    case 'keys':
      return (await import('./keys.ts')).keysCommand(flags, positionals.slice(1))
    case 'db':
      return (await import('./db.ts')).dbCommand(flags, positionals.slice(1))
    case 'backup':
      return (await import('./backup.ts')).backupCommand(flags, positionals.slice(1))
    case 'version':
      process.stdout.write(`plinth ${version()}\n`)
      return 0
    default:
      process.stderr.write(`plinth: unknown command "${command}"\n\n${usage}`)
      return 2
  }
}

try {
  const code = await main(process.argv.slice(2))
  if (code !== 0 || (process.argv[2] !== 'serve' && process.argv[2] !== 'worker')) process.exitCode = code
} catch (err) {
  // A problem the operator must fix (setting, address, database): one line, no stack, exit 2.
  if (err instanceof StartupError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
    process.stderr.write(`plinth: ${(err as Error).message}\n`)
    process.exitCode = 2
  } else {
    process.stderr.write(`plinth: ${(err as Error).stack ?? String(err)}\n`)
    process.exitCode = 1
  }
}
