import { spawn } from 'node:child_process'
import { StartupError } from '../config/errors.ts'
import { parseNodes, type NginxNode } from '../deploy/nginx.ts'
import { RolloutError } from '../deploy/rollout.ts'

/** Runs the operator's `template` in sh with {host} and {port} filled; rejects on a non-zero exit. */
export function runTemplate(template: string, node: NginxNode): Promise<void> {
  const command = template.replaceAll('{host}', node.host).replaceAll('{port}', String(node.port))
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', command], { stdio: ['ignore', 'inherit', 'inherit'] })
    child.once('error', reject)
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new RolloutError(`"${command}" exited with ${code}`))))
  })
}

/** `HOST:PORT,...` given as `--flag`; a bad list is one line naming the flag (exit 2). */
export function nodeList(list: string | undefined, flag: string): NginxNode[] {
  if (!list) throw new StartupError(`deploy: --${flag} HOST:PORT,... is required`)
  try {
    return parseNodes(list)
  } catch (err) {
    throw new StartupError((err as Error).message.replace('--nodes', `--${flag}`))
  }
}
