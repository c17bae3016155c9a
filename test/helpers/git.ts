/** git in `cwd` with a fixed author (the deploy tests make commits in local repositories). */
import { execFileSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import path from 'node:path'

export const git = (cwd: string, ...args: string[]): string =>
  execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], { cwd, encoding: 'utf8' }).trim()

/**
 * Commits a release in `repo`: `files` (name → content) and a `test.sh` that exits `testExit` (the
 * command a deploy runs before switching), on the checked-out branch. Returns the commit id.
 */
export function commitRelease(repo: string, name: string, testExit: number, files: Record<string, string>): string {
  for (const [file, content] of Object.entries(files)) writeFileSync(path.join(repo, file), content)
  writeFileSync(path.join(repo, 'test.sh'), `echo testing ${name}\nexit ${testExit}\n`)
  git(repo, 'add', '-A')
  git(repo, 'commit', '-q', '-m', name)
  return git(repo, 'rev-parse', 'HEAD')
}
