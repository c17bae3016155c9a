/** git in `cwd` with a fixed author (the deploy tests make commits in local repositories). */
import { execFileSync } from 'node:child_process'

export const git = (cwd: string, ...args: string[]): string =>
  execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], { cwd, encoding: 'utf8' }).trim()
