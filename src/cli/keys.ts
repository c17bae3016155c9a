import { KeyRing } from '../security/keys/key-ring.ts'
import { loadMasterKey } from '../security/keys/master-key.ts'
import { configFromFlags, openCommandCore } from './load.ts'
import type { CliFlags } from './main.ts'
import { keysUsage } from './keys-usage.ts'


/** `plinth keys rotate`: a new current RSA key; prints its kid. */
export async function keysCommand(flags: CliFlags, args: string[]): Promise<number> {
  if (args[0] !== 'rotate' || args.length !== 1) {
    process.stderr.write(keysUsage)
    return 2
  }
  const config = configFromFlags(flags)
  const core = await openCommandCore(config)
  try {
    const ring = new KeyRing(() => core.sql.writer().db, loadMasterKey(config.keys.masterKey, config.dir), config.keys.graceHours * 3_600_000)
    process.stdout.write(`new key: ${await ring.rotate()}\n`)
    return 0
  } finally {
    await core.close()
  }
}
