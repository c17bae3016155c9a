/**
 * Releases on a control host, as numbered folders with a `current` link:
 *
 *   ROOT/releases/0007-1a2b3c4/   a checkout of one commit, built and tested
 *   ROOT/current -> releases/0007-1a2b3c4
 *
 * `deploy(commit)` clones the repository into the next folder, checks the commit out, runs the
 * build and the tests there, and only if both pass moves `current` (atomically: a new link renamed
 * over the old) and runs the activate command (usually `plinth deploy rollout ...`, which restarts
 * the nodes one at a time). A failed build or test removes the folder and leaves `current` alone;
 * a failed activation puts `current` back and activates the previous release again.
 * `rollback()` moves `current` to the release before it and activates that. The last `keep`
 * releases are kept. One deployment at a time: a lock file, so the webhook and the CLI never race.
 */
import { spawn } from 'node:child_process'
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readlinkSync, renameSync, rmSync, symlinkSync, writeSync } from 'node:fs'
import path from 'node:path'

export interface ReleasesOptions {
  /** The folder holding `releases/` and `current`. */
  root: string
  /** What `git clone` takes: a URL or a path. */
  repo: string
  /** Shell commands run in the release folder. */
  build: string
  test: string
  /** Run in the new release's folder after `current` moved (empty: none). */
  activate: string
  keep: number
  log?(line: string): void
}

export interface Release {
  name: string
  number: number
  commit: string
  current: boolean
}

/** A step that failed: which one, and the end of what it printed. */
export class DeployError extends Error {
  constructor(
    readonly step: string,
    message: string,
    readonly output = '',
  ) {
    super(message)
  }
}

/** The longest one step (clone, build, test, activate) may run. */
const STEP_TIMEOUT_MS = 30 * 60_000
const NAME = /^(\d{4,})-([0-9a-f]{7,40}|[\w.-]+)$/

export class Releases {
  readonly #o: ReleasesOptions
  readonly #dir: string
  readonly #link: string

  constructor(o: ReleasesOptions) {
    this.#o = o
    this.#dir = path.join(o.root, 'releases')
    this.#link = path.join(o.root, 'current')
  }

  /** Oldest first. */
  list(): Release[] {
    if (!existsSync(this.#dir)) return []
    const current = this.currentName()
    return readdirSync(this.#dir)
      .map((name) => ({ name, m: NAME.exec(name) }))
      .filter((x): x is { name: string; m: RegExpExecArray } => !!x.m)
      .map(({ name, m }) => ({ name, number: Number(m[1]), commit: m[2]!, current: name === current }))
      .sort((a, b) => a.number - b.number)
  }

  currentName(): string | undefined {
    try {
      return path.basename(readlinkSync(this.#link))
    } catch {
      return undefined
    }
  }

  /** Builds, tests and activates `ref` (a commit id or a branch); resolves with the new release. */
  async deploy(ref: string): Promise<Release> {
    return this.#locked(async () => {
      mkdirSync(this.#dir, { recursive: true })
      const number = (this.list().at(-1)?.number ?? 0) + 1
      const tmp = path.join(this.#dir, `.incoming-${number}`)
      rmSync(tmp, { recursive: true, force: true })
      try {
        await this.#run('clone', `git clone --quiet ${quote(this.#o.repo)} ${quote(tmp)}`, this.#o.root)
        await this.#run('checkout', `git checkout --quiet --detach ${quote(ref)}`, tmp)
        const commit = (await this.#run('checkout', 'git rev-parse HEAD', tmp)).trim()
        const name = `${String(number).padStart(4, '0')}-${commit.slice(0, 7)}`
        await this.#run('build', this.#o.build, tmp)
        await this.#run('test', this.#o.test, tmp)
        renameSync(tmp, path.join(this.#dir, name))
        await this.#activate(name)
        this.#prune()
        return this.list().find((r) => r.name === name)!
      } finally {
        rmSync(tmp, { recursive: true, force: true })
      }
    })
  }

  /** Moves `current` to the release before it and activates it. */
  async rollback(): Promise<Release> {
    return this.#locked(async () => {
      const list = this.list()
      const at = list.findIndex((r) => r.current)
      const previous = at > 0 ? list[at - 1] : undefined
      if (!previous) throw new DeployError('rollback', at < 0 ? 'no current release to roll back from' : 'no release before the current one')
      await this.#activate(previous.name)
      return { ...previous, current: true }
    })
  }

  /** Points `current` at `name` and runs the activate command; on failure puts the old one back. */
  async #activate(name: string): Promise<void> {
    const before = this.currentName()
    this.#point(name)
    this.#o.log?.(`current -> releases/${name}`)
    if (!this.#o.activate) return
    try {
      await this.#run('activate', this.#o.activate, path.join(this.#dir, name))
    } catch (err) {
      if (!before) throw err
      this.#point(before)
      this.#o.log?.(`activation failed; current -> releases/${before} again`)
      await this.#run('activate', this.#o.activate, path.join(this.#dir, before)).catch(() => undefined)
      throw err
    }
  }

  #point(name: string): void {
    const next = `${this.#link}.next`
    rmSync(next, { force: true })
    symlinkSync(path.join('releases', name), next)
    renameSync(next, this.#link)
  }

  #prune(): void {
    const list = this.list()
    for (const r of list.slice(0, Math.max(0, list.length - this.#o.keep))) {
      if (!r.current) rmSync(path.join(this.#dir, r.name), { recursive: true, force: true })
    }
  }

  async #locked<T>(fn: () => Promise<T>): Promise<T> {
    mkdirSync(this.#o.root, { recursive: true })
    const lock = path.join(this.#o.root, '.deploying')
    let fd: number
    try {
      fd = openSync(lock, 'wx')
    } catch {
      throw new DeployError('lock', `another deployment is running (${lock}; remove it if none is)`)
    }
    writeSync(fd, String(process.pid))
    closeSync(fd)
    try {
      return await fn()
    } finally {
      rmSync(lock, { force: true })
    }
  }

  /** Runs `command` in sh in `cwd`; resolves with its stdout, or throws DeployError with the output's end. */
  #run(step: string, command: string, cwd: string): Promise<string> {
    this.#o.log?.(`${step}: ${command}`)
    return new Promise((resolve, reject) => {
      const child = spawn('sh', ['-c', command], {
        cwd,
        stdio: ['ignore', 'pipe', 'pipe'],
        timeout: STEP_TIMEOUT_MS,
      })
      let out = ''
      let stdout = ''
      const keep = (d: Buffer) => (out = (out + d.toString()).slice(-8000))
      child.stdout.on('data', (d: Buffer) => {
        stdout = (stdout + d.toString()).slice(-8000)
        keep(d)
      })
      child.stderr.on('data', keep)
      child.once('error', (err) => reject(new DeployError(step, `${step} could not start: ${err.message}`)))
      child.once('close', (code, signal) => {
        if (code === 0) return resolve(stdout)
        reject(new DeployError(step, `${step} failed (${signal ?? `exit ${code}`}): ${command}`, out.slice(-2000)))
      })
    })
  }
}

/** A shell word. */
function quote(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`
}
