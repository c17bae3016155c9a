import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { Writable } from 'node:stream'
import type { AddressInfo } from 'node:net'
import { SMTPServer } from 'smtp-server'
import { authMail, recordPlaceholders, templateMail } from '../../src/auth/mails.ts'
import { defaultAuthAlertTemplate, defaultOtpTemplate } from '../../src/records/collections/auth-templates.ts'
import { loadConfig, maskSecrets } from '../../src/config/load.ts'
import { parseMailUrl } from '../../src/config/urls.ts'
import { createLogger } from '../../src/log.ts'
import { createLogMailer } from '../../src/mail/log.ts'
import { createSmtpMailer } from '../../src/mail/smtp.ts'

const app = { appName: 'Acme', appUrl: 'https://app.example.com/' }

describe('mail config', () => {
  test('default is the log engine; PLINTH_MAIL picks SMTP', () => {
    assert.equal(loadConfig({ env: {}, cwd: '/tmp' }).mail, 'log://')
    const cfg = loadConfig({ env: { PLINTH_MAIL: 'smtps://u%40x:p%2Fw@mail.example.com?from=Acme%20%3Cno-reply%40example.com%3E' }, cwd: '/tmp' })
    assert.deepEqual(parseMailUrl(cfg.mail, 'mail'), {
      engine: 'smtp',
      host: 'mail.example.com',
      port: 465,
      secure: true,
      requireTLS: false,
      user: 'u@x',
      pass: 'p/w',
      from: { address: 'no-reply@example.com', name: 'Acme' },
    })
  })

  test('plinth config masks the SMTP password', () => {
    const cfg = loadConfig({ env: { PLINTH_MAIL: 'smtp://mailer:hunter2@mail.example.com:587' }, cwd: '/tmp' })
    assert.equal(maskSecrets(cfg).mail, 'smtp://mailer:****@mail.example.com:587')
  })

  test('bad mail URLs stop start-up with a message naming the key', () => {
    for (const [url, why] of [
      ['ftp://x', /mail: unsupported scheme "ftp"/],
      ['smtp://', /mail: (URL needs a host|malformed URL)/],
      ['smtp://h?from=nobody', /mail: from= is not an email address/],
      ['smtp://h?tls=1', /mail: unknown parameter "tls"/],
    ] as const) {
      assert.throws(() => loadConfig({ env: { PLINTH_MAIL: url }, cwd: '/tmp' }), why, url)
    }
  })
})

describe('template mails (OTP, login alert)', () => {
  test('placeholders are filled in subject and body; values are escaped in the HTML only', () => {
    const fields = [{ name: 'name', hidden: false }, { name: 'password', hidden: true }]
    const values = { ...recordPlaceholders(fields, { name: 'Ann <b>', password: 'hash' }), '{OTP}': '123456', '{OTP_ID}': 'abc' }
    const m = templateMail(app, { subject: '{APP_NAME} code for {RECORD:name}', body: '<p>{OTP} {OTP_ID} {RECORD:name} {RECORD:password} {APP_URL}</p>' }, 'a@example.com', values)
    assert.equal(m.subject, 'Acme code for Ann <b>')
    assert.equal(m.html, '<p>123456 abc Ann &#60;b&#62; {RECORD:password} https://app.example.com</p>')
    assert.equal(m.text, '123456 abc Ann <b> {RECORD:password} https://app.example.com')
    assert.deepEqual(m.to, [{ address: 'a@example.com' }])
  })

  test("the defaults are PocketBase's subjects and carry the code and the alert info", () => {
    const otp = templateMail(app, defaultOtpTemplate(), 'a@example.com', { '{OTP}': '00112233' })
    assert.equal(otp.subject, 'OTP for Acme')
    assert.ok(otp.html.includes('<strong>00112233</strong>'))
    const alert = templateMail(app, defaultAuthAlertTemplate(), 'a@example.com', { '{ALERT_INFO}': '2026-01-01 - 10.0.0.1 curl/8' })
    assert.equal(alert.subject, 'Login from a new location')
    assert.ok(alert.html.includes('<em>2026-01-01 - 10.0.0.1 curl/8</em>'))
  })
})

describe('auth mails', () => {
  test("links follow PocketBase's defaults; HTML escapes the app name", () => {
    const m = authMail({ ...app, appName: 'A<b>' }, 'passwordReset', 'a@example.com', 'TOK.EN.X')
    assert.equal(m.subject, 'Reset your A<b> password')
    assert.ok(m.html.includes('href="https://app.example.com/_/#/auth/confirm-password-reset/TOK.EN.X"'))
    assert.ok(m.html.includes('A&#60;b&#62; team'))
    assert.ok(m.text?.includes('https://app.example.com/_/#/auth/confirm-password-reset/TOK.EN.X'))
    assert.ok(authMail(app, 'verification', 'a@example.com', 'T').html.includes('/_/#/auth/confirm-verification/T'))
    assert.ok(authMail(app, 'emailChange', 'a@example.com', 'T').html.includes('/_/#/auth/confirm-email-change/T'))
  })
})

/** The SMTP engine for a mail URL, as the mail port opens it. */
async function smtpMailer(url: string) {
  const target = parseMailUrl(url, 'mail')
  assert.ok(target.engine === 'smtp')
  return createSmtpMailer(target)
}

describe('mail engine: log', () => {
  test('writes the whole message, link included, to the log', async () => {
    const lines: string[] = []
    const dest = new Writable({ write: (chunk, _enc, cb) => (lines.push(String(chunk)), cb()) })
    const target = parseMailUrl('log://?from=dev%40example.com', 'mail')
    assert.equal(target.engine, 'log')
    const mailer = createLogMailer(createLogger({ logLevel: 'info' }, dest), target.from)
    assert.equal(mailer.name, 'log')
    await mailer.send(authMail(app, 'verification', 'a@example.com', 'abc.def.ghi'))
    const entry = JSON.parse(lines.join('')) as { msg: string; mail: { to: string[]; from: string; text: string } }
    assert.deepEqual(entry.mail.to, ['a@example.com'])
    assert.equal(entry.mail.from, 'dev@example.com')
    assert.ok(entry.mail.text.includes('https://app.example.com/_/#/auth/confirm-verification/abc.def.ghi'))
    assert.match(entry.msg, /not sent/)
  })
})

interface Received {
  from: string
  to: string[]
  user?: string
  data: string
}

describe('mail engine: smtp (real SMTP server on 127.0.0.1)', () => {
  let server: SMTPServer
  let port: number
  const received: Received[] = []

  before(async () => {
    server = new SMTPServer({
      authOptional: false,
      disabledCommands: ['STARTTLS'], // plain local socket: no certificate to trust
      allowInsecureAuth: true,
      onAuth(auth, _session, cb) {
        if (auth.username === 'mailer' && auth.password === 's3cret/pw') cb(null, { user: auth.username })
        else cb(new Error('bad credentials'))
      },
      onData(stream, session, cb) {
        let data = ''
        stream.on('data', (c: Buffer) => (data += c.toString()))
        stream.on('end', () => {
          received.push({
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
            to: session.envelope.rcptTo.map((r) => r.address),
            user: session.user as string | undefined,
            data,
          })
          cb()
        })
      },
      logger: false,
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    port = (server.server.address() as AddressInfo).port
  })
  after(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()))
  })

  test('authenticates and delivers the message the client built', async () => {
    const mailer = await smtpMailer(`smtp://mailer:s3cret%2Fpw@127.0.0.1:${port}?from=Acme%20%3Cno-reply%40example.com%3E`)
    assert.equal(mailer.name, 'smtp')
    try {
      await mailer.send(authMail(app, 'passwordReset', 'user@example.com', 'the.reset.token'))
    } finally {
      await mailer.close()
    }
    assert.equal(received.length, 1)
    const [m] = received as [Received]
    assert.equal(m.user, 'mailer')
    assert.equal(m.from, 'no-reply@example.com')
    assert.deepEqual(m.to, ['user@example.com'])
    assert.match(m.data, /^From: Acme <no-reply@example\.com>$/m)
    assert.match(m.data, /^Subject: Reset your Acme password$/m)
    assert.match(m.data, /multipart\/alternative/)
    // Quoted-printable may wrap long lines: undo soft breaks before looking for the link.
    const body = m.data.replace(/=\r?\n/g, '').replace(/=3D/g, '=')
    assert.ok(body.includes('https://app.example.com/_/#/auth/confirm-password-reset/the.reset.token'))
  })

  test('wrong credentials fail the send (the caller logs it), nothing is delivered', async () => {
    const before = received.length
    const mailer = await smtpMailer(`smtp://mailer:wrong@127.0.0.1:${port}`)
    try {
      await assert.rejects(mailer.send(authMail(app, 'verification', 'user@example.com', 't')), (e: { code?: string }) => e.code === 'EAUTH')
    } finally {
      await mailer.close()
    }
    assert.equal(received.length, before)
  })
})
