/**
 * The admin console's browser tests: a whole Plinth listening on a real port (SQLite in a temp
 * folder, mails captured from the log mailer) and Debian's Chromium driven by playwright-core
 * (never a downloaded browser: scripts/services.sh installs /usr/bin/chromium). A failed step
 * keeps a screenshot under $TMPDIR/plinth-admin-artifacts (printed with the failure).
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core'
import { createPlinth, type Plinth } from '../../src/app.ts'
import { createLogger } from '../../src/log.ts'
import { unusedPort } from '../helpers/redis.ts'

export const CHROMIUM = '/usr/bin/chromium'
export const ARTIFACTS = path.join(tmpdir(), 'plinth-admin-artifacts')

/**
 * Why the browser tests cannot run here, or undefined when they can. A reason is printed loudly;
 * under PLINTH_REQUIRE_SERVICES=1 (CI) it fails the run instead, as a missing server does.
 */
export function skipReason(): string | undefined {
  let why: string | undefined
  if (!existsSync(CHROMIUM)) why = `${CHROMIUM} is missing: run \`bash scripts/services.sh\` (installs Debian's chromium)`
  else if (!existsSync(path.resolve(import.meta.dirname, '..', '..', 'dist', 'admin', 'index.html'))) why = 'dist/admin is not built: run `node scripts/build.js --js`'
  if (why && process.env.PLINTH_REQUIRE_SERVICES === '1') throw new Error(`PLINTH_REQUIRE_SERVICES=1 but ${why}`)
  if (why) process.stderr.write(`\n!!! SKIPPING admin console browser tests: ${why}\n\n`)
  return why
}

export interface ConsoleRig {
  app: Plinth
  url: string
  browser: Browser
  context: BrowserContext
  page: Page
  /** Every log line so far (JSON), e.g. the log mailer's mails. */
  logLines: string[]
  /** Runs a step; on failure saves a screenshot of the page and rethrows with its path. */
  step<T>(name: string, fn: () => Promise<T>): Promise<T>
  close(): Promise<void>
}

export async function startConsole(opts: { locale?: string; viewport?: { width: number; height: number }; overrides?: Record<string, unknown> } = {}): Promise<ConsoleRig> {
  const dir = mkdtempSync(path.join(tmpdir(), 'plinth-admin-'))
  const port = await unusedPort()
  const url = `http://127.0.0.1:${port}`
  const logLines: string[] = []
  const app = await createPlinth({
    config: {
      cwd: dir,
      env: {},
      overrides: { dir, http: `127.0.0.1:${port}`, publicUrl: url, logLevel: 'info', rateLimits: { enabled: false }, ...opts.overrides },
    },
    logger: createLogger({ logLevel: 'info' }, { write: (line: string) => void logLines.push(line) }),
  })
  let browser: Browser | undefined
  try {
    await app.start()
    app.jobs.startWorker()
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-dev-shm-usage'] })
    const context = await browser.newContext({ locale: opts.locale ?? 'en-US', viewport: opts.viewport ?? { width: 1280, height: 860 } })
    const page = await context.newPage()
    page.setDefaultTimeout(15_000)
    const b = browser
    return {
      app, url, browser: b, context, page, logLines,
      async step(name, fn) {
        try {
          return await fn()
        } catch (err) {
          mkdirSync(ARTIFACTS, { recursive: true })
          const shot = path.join(ARTIFACTS, `${name.replace(/[^\w-]+/g, '_')}-${Date.now()}.png`)
          await page.screenshot({ path: shot, fullPage: true }).catch(() => undefined)
          throw new Error(`${name}: ${(err as Error).message}\n(screenshot: ${shot})`, { cause: err })
        }
      },
      async close() {
        await b.close().catch(() => undefined)
        await app.stop()
        rmSync(dir, { recursive: true, force: true })
      },
    }
  } catch (err) {
    await browser?.close().catch(() => undefined)
    await app.stop()
    rmSync(dir, { recursive: true, force: true })
    throw err
  }
}

/** The mails the log mailer wrote so far (newest last). */
export function mails(lines: string[]): { to: string[]; subject: string; text: string }[] {
  return lines.flatMap((l) => {
    try {
      const m = (JSON.parse(l) as { mail?: { to: string[]; subject: string; text: string } }).mail
      return m ? [m] : []
    } catch {
      return []
    }
  })
}
