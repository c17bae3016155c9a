import type { EmailTemplate } from '../model.ts'

/**
 * The default templates of the mails an auth collection configures itself (PocketBase's
 * `otp.emailTemplate` and `authAlert.emailTemplate`), with PocketBase's placeholders so its
 * exported collections and admin UI keep working: `{APP_NAME}`, `{APP_URL}`, `{OTP}`,
 * `{OTP_ID}`, `{ALERT_INFO}`. Filled in by src/auth/mails.ts.
 */

export function defaultOtpTemplate(): EmailTemplate {
  return {
    subject: 'OTP for {APP_NAME}',
    body: [
      '<p>Hello,</p>',
      '<p>Your one-time password is: <strong>{OTP}</strong></p>',
      "<p><i>If you didn't ask for the one-time password, you can ignore this email.</i></p>",
      '<p>\n  Thanks,<br/>\n  {APP_NAME} team\n</p>',
    ].join('\n'),
  }
}

export function defaultAuthAlertTemplate(): EmailTemplate {
  return {
    subject: 'Login from a new location',
    body: [
      '<p>Hello,</p>',
      '<p>We noticed a login to your {APP_NAME} account from a new location:</p>',
      '<p><em>{ALERT_INFO}</em></p>',
      "<p><strong>If this wasn't you, you should immediately change your {APP_NAME} account password to revoke access from all other locations.</strong></p>",
      '<p>If this was you, you may disregard this email.</p>',
      '<p>\n  Thanks,<br/>\n  {APP_NAME} team\n</p>',
    ].join('\n'),
  }
}
