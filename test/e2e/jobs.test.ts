/**
 * Real `plinth worker` processes over one queue: a worker killed with SIGKILL mid-job has the job
 * run again by another once the lease ends, to completion, with its effect once; a job that kills
 * its worker every time ends failed (lost leases are bounded: the queue port's contract, needing
 * real deaths, so checked here on both engines); two workers and
 * one cron run each tick once; SIGTERM stops a worker cleanly. Run on the SQL queue (SQLite file
 * shared by the processes, counters in each process, so only the job id keeps a tick to one run)
 * and on BullMQ with counters on Redis (the tick lock). Waits are for events; no durations asserted.
 */
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import type { ChildProcess } from 'node:child_process'
import { after, describe, test } from 'node:test'
import { collect, runCli, startCli, type CliResult } from '../helpers/cli.ts'
import { LOST_LEASE_ERROR, LOST_LEASE_GRACE } from '../../src/jobs/queue.ts'
import { adminRedis, deleteKeys, REDIS_TEST_URL, redisSkip, testPrefix } from '../helpers/redis.ts'

const MODULE = `
import { appendFileSync, readFileSync } from 'node:fs'
const LOG = process.env.JOBS_LOG
const lines = () => readFileSync(LOG, 'utf8').split('\\n')
export default async (app) => {
  if (process.env.JOBS_MODE === 'kill') {
    app.jobs.define('slow', async (data, job) => {
      appendFileSync(LOG, 'start ' + job.id + ' ' + job.attempt + ' ' + process.pid + '\\n')
      // The first run ever hangs until its worker is killed; a later run finishes.
      if (lines().filter((l) => l.startsWith('start ')).length === 1) await new Promise(() => {})
      if (!lines().includes('done ' + job.id)) appendFileSync(LOG, 'done ' + job.id + '\\n')
    }, { timeout: 600000, attempts: 1 })
    await app.jobs.enqueue('slow', {}, { jobId: 'kill-me' })
  } else if (process.env.JOBS_MODE === 'doom') {
    // Kills its worker on every run; once the job is failed, a worker says so (and with what).
    app.jobs.define('doomed', (data, job) => {
      appendFileSync(LOG, 'start ' + job.id + ' ' + job.attempt + ' ' + process.pid + '\\n')
      process.kill(process.pid, 'SIGKILL')
      return new Promise(() => {})
    }, { attempts: 1 })
    await app.jobs.enqueue('doomed', {}, { jobId: 'doom-me' })
    const timer = setInterval(async () => {
      const job = await app.jobs.get('doomed', 'doom-me')
      if (job?.state === 'failed') {
        clearInterval(timer)
        appendFileSync(LOG, 'failed ' + job.error + '\\n')
      }
    }, 100)
  } else {
    app.cron('tick', '* * * * * *', ({ tick }) => appendFileSync(LOG, 'tick ' + tick.getTime() + ' ' + process.pid + '\\n'))
  }
}
`

interface Worker {
  child: ChildProcess
  exited: Promise<CliResult>
  /** Resolves when the worker logs that it started. */
  started: Promise<void>
}

function startWorker(dir: string, env: Record<string, string>, all: Worker[]): Worker {
  const child = startCli(['worker', '--dir', dir, '--app', path.join(dir, 'plinth.app.mjs')], env, dir)
  let out = ''
  const started = new Promise<void>((resolve) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString()
      if (out.includes('"msg":"worker started"')) resolve()
    })
  })
  const w = { child, exited: collect(child), started }
  all.push(w)
  return w
}

/** Resolves once `check` holds (every 50 ms); the bound only turns a hang into a failure. */
async function until(what: string, check: () => boolean, boundMs = 90_000): Promise<void> {
  const end = Date.now() + boundMs
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

const redisSkipReason = await redisSkip()

interface Setup {
  name: string
  skip: string | false
  env(prefix: string): Record<string, string>
}

const setups: Setup[] = [
  { name: 'sql queue', skip: false, env: () => ({ PLINTH_QUEUE: 'sql://?leaseMs=1000&pollMs=100' }) },
  {
    name: 'bullmq queue, counters on redis',
    skip: redisSkipReason,
    env: (prefix) => {
      const queue = new URL(REDIS_TEST_URL)
      queue.searchParams.set('prefix', prefix)
      const counters = new URL(queue)
      queue.searchParams.set('leaseMs', '1000')
      return { PLINTH_QUEUE: queue.toString(), PLINTH_COUNTERS: counters.toString() }
    },
  },
]

for (const s of setups) {
  describe(`plinth worker: ${s.name}`, { skip: s.skip }, () => {
    const workers: Worker[] = []
    const dirs: string[] = []
    const prefixes: string[] = []
    after(async () => {
      for (const w of workers) w.child.kill('SIGKILL')
      await Promise.all(workers.map((w) => w.exited))
      for (const d of dirs) rmSync(d, { recursive: true, force: true })
      if (prefixes.length && !s.skip) {
        const admin = await adminRedis()
        for (const p of prefixes) await deleteKeys(admin, p)
        await admin.quit()
      }
    })
    const folder = (mode: string) => {
      const dir = mkdtempSync(path.join(tmpdir(), 'plinth-jobs-'))
      dirs.push(dir)
      writeFileSync(path.join(dir, 'plinth.app.mjs'), MODULE)
      const log = path.join(dir, 'jobs.log')
      writeFileSync(log, '')
      const prefix = testPrefix()
      prefixes.push(prefix)
      return { dir, log, env: { ...s.env(prefix), JOBS_LOG: log, JOBS_MODE: mode, PLINTH_LOG_LEVEL: 'info' } }
    }

    test('a job whose worker is killed mid-run runs again elsewhere and completes, once', async () => {
      const { dir, log, env } = folder('kill')
      const lines = () => (existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter(Boolean) : [])
      const a = startWorker(dir, env, workers)
      await until('the first attempt to start', () => lines().some((l) => l.startsWith('start ')))
      a.child.kill('SIGKILL')
      assert.equal((await a.exited).signal, 'SIGKILL')
      const b = startWorker(dir, env, workers)
      await until('the job to finish on the second worker', () => lines().includes('done kill-me'))
      const starts = lines().filter((l) => l.startsWith('start kill-me'))
      assert.equal(starts.length, 2, lines().join('\n'))
      assert.equal(starts[0]!.split(' ')[3], String(a.child.pid))
      assert.equal(starts[1]!.split(' ')[3], String(b.child.pid))
      assert.equal(lines().filter((l) => l === 'done kill-me').length, 1)
      b.child.kill('SIGTERM')
      const r = await b.exited
      assert.equal(r.code, 0, r.stderr)
      assert.match(r.stdout, /"msg":"worker stopped"/)
    })

    test('a job that kills its worker every time ends failed after its attempts and LOST_LEASE_GRACE lost leases', async () => {
      const { dir, log, env } = folder('doom')
      const lines = () => (existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter(Boolean) : [])
      const failed = () => lines().find((l) => l.startsWith('failed '))
      // One worker at a time: each either dies running the job or, once it is failed, reports it.
      // The bound on workers only turns a job run forever into a failure.
      let last: Worker | undefined
      for (let i = 0; i < 8 && !failed(); i++) {
        last = startWorker(dir, env, workers)
        let dead = false
        void last.exited.then(() => (dead = true))
        while (!dead && !failed()) await new Promise((r) => setTimeout(r, 50))
      }
      assert.equal(failed(), `failed ${LOST_LEASE_ERROR}`, lines().join('\n'))
      assert.equal(lines().filter((l) => l.startsWith('start doom-me')).length, 1 + LOST_LEASE_GRACE, lines().join('\n'))
      last!.child.kill('SIGTERM')
      assert.equal((await last!.exited).code, 0)
    })

    test('two workers and one cron: each tick runs once', async () => {
      const { dir, log, env } = folder('cron')
      // Migrate first, so the two workers do not race to create the tables.
      assert.equal((await runCli(['migrate', '--dir', dir], env, dir)).code, 0)
      const one = startWorker(dir, env, workers)
      const two = startWorker(dir, env, workers)
      await Promise.all([one.started, two.started])
      const ticks = () => readFileSync(log, 'utf8').split('\n').filter((l) => l.startsWith('tick ')).map((l) => l.split(' ')[1]!)
      await until('five ticks', () => new Set(ticks()).size >= 5)
      for (const w of [one, two]) w.child.kill('SIGTERM')
      for (const w of [one, two]) assert.equal((await w.exited).code, 0)
      const all = ticks()
      assert.equal(all.length, new Set(all).size, `a tick ran twice:\n${all.join('\n')}`)
    })
  })
}

test('a bad PLINTH_QUEUE stops start-up with one line naming it', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'plinth-jobs-'))
  try {
    const r = await runCli(['config', '--dir', dir], { PLINTH_QUEUE: 'gearman://127.0.0.1' }, dir)
    assert.equal(r.code, 2)
    assert.match(r.stderr, /config: queue: unsupported scheme "gearman" \(expected sql:\/\/ or redis:\/\/\)/)
    const bad = await runCli(['config', '--dir', dir], { PLINTH_QUEUE: 'sql://?pollMs=0' }, dir)
    assert.equal(bad.code, 2)
    assert.match(bad.stderr, /config: queue: pollMs must be a whole number above 0/)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
