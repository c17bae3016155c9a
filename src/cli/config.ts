import { maskSecrets } from '../config/load.ts'
import { configFromFlags } from './load.ts'
import type { CliFlags } from './main.ts'

/** `plinth config`: the effective configuration as JSON, secrets masked. */
export function printConfig(flags: CliFlags): number {
  process.stdout.write(`${JSON.stringify(maskSecrets(configFromFlags(flags)), null, 2)}\n`)
  return 0
}
