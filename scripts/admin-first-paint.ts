// Measures the admin console's first paint in Debian's Chromium: a fresh browser context (empty
// cache) opens /_/ on a local Plinth; reported are the median over 7 loads of the time to the
// sign-in form (navigation start to the form in the DOM, from the page's own clock) and the bytes
// sent. Run: node scripts/build.js --js && node --import tsx scripts/admin-first-paint.ts
import { startConsole } from '../test/admin/harness.ts'

const rig = await startConsole({ overrides: { logLevel: 'warn' } })
try {
  const times: number[] = []
  let bytes = 0
  for (let i = 0; i < 7; i++) {
    const context = await rig.browser.newContext()
    const page = await context.newPage()
    let sent = 0
    page.on('response', (r) => void r.body().then((b) => (sent += b.length), () => undefined))
    await page.goto(`${rig.url}/_/`)
    await page.waitForSelector('form.login')
    times.push(await page.evaluate(() => performance.now()))
    bytes = sent
    await context.close()
  }
  times.sort((a, b) => a - b)
  process.stdout.write(`sign-in form after ${Math.round(times[3]!)} ms (median of 7; min ${Math.round(times[0]!)}, max ${Math.round(times[6]!)}), ${bytes} bytes uncompressed\n`)
} finally {
  await rig.close()
}
