import type { MailMessage } from '../mail/mail.ts'
import type { EmailTemplate } from '../records/model.ts'

/**
 * The auth mails, with PocketBase's default wording and link forms
 * (`{APP_URL}/_/#/auth/confirm-verification/{TOKEN}` and the like), so its admin UI and apps
 * that parse these links keep working. Each has an HTML and a plain-text body.
 */
export interface MailApp {
  /** Shown in subjects and signatures. */
  appName: string
  /** The public base URL links point to, without a trailing slash. NB: from config, never from a request's Host header. */
  appUrl: string
}

export type AuthMailKind = 'verification' | 'passwordReset' | 'emailChange'

const paths: Record<AuthMailKind, string> = {
  verification: 'confirm-verification',
  passwordReset: 'confirm-password-reset',
  emailChange: 'confirm-email-change',
}

const wording: Record<AuthMailKind, { subject: (app: string) => string; lead: string[]; button: string; ignore: string }> = {
  verification: {
    subject: (app) => `Verify your ${app} email`,
    lead: ['Thank you for joining us at {APP}.', 'Click on the button below to verify your email address.'],
    button: 'Verify',
    ignore: "If you didn't recently register, please ignore this email.",
  },
  passwordReset: {
    subject: (app) => `Reset your ${app} password`,
    lead: ['Click on the button below to reset your password.'],
    button: 'Reset password',
    ignore: "If you didn't ask to reset your password, please ignore this email.",
  },
  emailChange: {
    subject: (app) => `Confirm your ${app} new email address`,
    lead: ['Click on the button below to confirm your new email address.'],
    button: 'Confirm new email',
    ignore: "If you didn't ask to change your email address, please ignore this email.",
  },
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
}

/** The link a mail carries: tokens are base64url JWTs, so they need no escaping in a URL fragment. */
export function authMailLink(app: MailApp, kind: AuthMailKind, token: string): string {
  return `${app.appUrl.replace(/\/+$/, '')}/_/#/auth/${paths[kind]}/${token}`
}

export function authMail(app: MailApp, kind: AuthMailKind, to: string, token: string): MailMessage {
  const w = wording[kind]
  const link = authMailLink(app, kind, token)
  const lead = w.lead.map((l) => l.replace('{APP}', app.appName))
  const name = escapeHtml(app.appName)
  const html = [
    '<p>Hello,</p>',
    ...lead.map((l) => `<p>${escapeHtml(l)}</p>`),
    `<p>\n  <a class="btn" href="${escapeHtml(link)}" target="_blank" rel="noopener">${escapeHtml(w.button)}</a>\n</p>`,
    `<p><i>${escapeHtml(w.ignore)}</i></p>`,
    `<p>\n  Thanks,<br/>\n  ${name} team\n</p>`,
  ].join('\n')
  const text = ['Hello,', '', ...lead, '', `${w.button}: ${link}`, '', w.ignore, '', 'Thanks,', `${app.appName} team`].join('\n')
  return { to: [{ address: to }], subject: w.subject(app.appName), html, text }
}

/**
 * A mail from a collection's template (`otp.emailTemplate`, `authAlert.emailTemplate`) with its
 * `{PLACEHOLDERS}` filled, as PocketBase resolves them: every one in the subject and the body.
 * Values are HTML-escaped in the body (the template's own HTML is the operator's); the plain-text
 * alternative is the body without tags.
 */
export function templateMail(app: MailApp, template: EmailTemplate, to: string, values: Record<string, string>): MailMessage {
  const all: Record<string, string> = { '{APP_NAME}': app.appName, '{APP_URL}': app.appUrl.replace(/\/+$/, ''), ...values }
  let subject = template.subject
  let html = template.body
  for (const [key, value] of Object.entries(all)) {
    subject = subject.replaceAll(key, value)
    html = html.replaceAll(key, escapeHtml(value))
  }
  return { to: [{ address: to }], subject, html, text: htmlToText(html) }
}

/** A rough plain-text form of a short HTML mail: tags dropped, entities of escapeHtml undone. */
function htmlToText(html: string): string {
  return html
    .replace(/<br\s*\/?>/gi, '\n')
    .replace(/<\/p>/gi, '\n')
    .replace(/<[^>]{0,1000}>/g, '')
    .replace(/&#(\d{2,3});/g, (_, code: string) => String.fromCharCode(Number(code)))
    .replace(/[ \t]+\n/g, '\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim()
}
