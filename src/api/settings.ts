import { Type } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { isEmailAddress } from '../auth/email.ts'
import { authMail, recordPlaceholders, templateMail, type MailApp } from '../auth/mails.ts'
import { ApiError } from '../errors.ts'
import type { Mailer, MailMessage } from '../mail/mail.ts'
import { isAuthCollection, type AuthCollection } from '../records/model.ts'
import type { CollectionRegistry } from '../records/registry.ts'
import type { SettingsStore } from '../settings/settings-store.ts'
import '../auth/request.ts'

export interface SettingsApiOptions {
  settings: SettingsStore
  registry: CollectionRegistry
  /** The mailer in force (follows the settings' SMTP); test mails are sent through it at once. */
  mail: Mailer
}

/**
 * PocketBase's RequireSuperuserAuth, as a route's `onRequest` hook (before its input is read):
 * 401 for a guest, 403 for any other record.
 */
export async function superuserOnly(request: FastifyRequest): Promise<void> {
  if (!request.auth) throw new ApiError('unauthorized', 'The request requires valid record authorization token.')
  if (!request.auth.isSuperuser) throw new ApiError('forbidden', 'The authorized record is not allowed to perform this action.')
}

const TEMPLATES = ['verification', 'password-reset', 'email-change', 'otp', 'login-alert'] as const
const TestEmailBody = Type.Object({
  email: Type.String({ maxLength: 255 }),
  template: Type.String({ maxLength: 64 }),
  collection: Type.Optional(Type.String({ maxLength: 255 })),
})

/** The mail a test of `template` sends, as the real flow would, with placeholder token and code. */
function testMail(app: MailApp, template: (typeof TEMPLATES)[number], collection: AuthCollection, to: string): MailMessage {
  // PocketBase fills every visible field of a made-up record with `__pb_test_<field>__`.
  const row = Object.fromEntries(collection.fields.map((f) => [f.name, `__pb_test_${f.name}__`]))
  const placeholders = { ...recordPlaceholders(collection.fields, row), '{RECORD:email}': to }
  switch (template) {
    case 'verification':
      return authMail(app, 'verification', to, '__pb_test_token__')
    case 'password-reset':
      return authMail(app, 'passwordReset', to, '__pb_test_token__')
    case 'email-change':
      return authMail(app, 'emailChange', to, '__pb_test_token__')
    case 'otp':
      return templateMail(app, collection.otp.emailTemplate, to, { ...placeholders, '{OTP}': '123456', '{OTP_ID}': '_PB_TEST_OTP_ID_' })
    case 'login-alert':
      return templateMail(app, collection.authAlert.emailTemplate, to, { ...placeholders, '{ALERT_INFO}': `${new Date().toISOString().replace('T', ' ')} - 127.0.0.1 TEST_USER_AGENT` })
  }
}

/**
 * PocketBase's settings endpoints, superusers only: `GET /api/settings` (secrets left out, plus
 * Plinth's `@locked`: the settings the configuration sets, and where), `PATCH /api/settings`
 * (saved for every node; 400 per field, or naming locked values) and
 * `POST /api/settings/test/email` (sent now through the mailer in force; 204, or 400 with why).
 */
export async function settingsRoutes(http: FastifyInstance, opts: SettingsApiOptions): Promise<void> {
  const { settings } = opts
  http.get('/api/settings', { onRequest: superuserOnly }, async () => settings.toResponse())

  http.patch('/api/settings', { onRequest: superuserOnly }, async (request) => {
    await settings.update(request.body ?? {})
    return settings.toResponse()
  })

  http.post('/api/settings/test/email', { onRequest: superuserOnly }, async (request, reply) => {
    const body = (request.body ?? {}) as Record<string, unknown>
    const errors: Record<string, { code: string; message: string }> = {}
    if (!Value.Check(TestEmailBody, { email: body.email ?? '', template: body.template ?? '', ...(body.collection === undefined ? {} : { collection: body.collection }) })) {
      throw new ApiError('bad_request', 'An error occurred while loading the submitted data.')
    }
    const email = String(body.email ?? '')
    const template = String(body.template ?? '')
    const collectionName = body.collection === undefined || body.collection === '' ? '_superusers' : String(body.collection)
    if (!email) errors.email = { code: 'validation_required', message: 'Cannot be blank.' }
    else if (!isEmailAddress(email)) errors.email = { code: 'validation_is_email', message: 'Must be a valid email address.' }
    if (!template) errors.template = { code: 'validation_required', message: 'Cannot be blank.' }
    else if (!(TEMPLATES as readonly string[]).includes(template)) errors.template = { code: 'validation_in_invalid', message: 'Must be a valid value.' }
    const collection = opts.registry.get(collectionName)
    if (!collection || !isAuthCollection(collection)) errors.collection = { code: 'validation_invalid_auth_collection', message: 'Must be a valid auth collection id or name.' }
    if (Object.keys(errors).length || !collection || !isAuthCollection(collection)) throw new ApiError('bad_request', 'Failed to send the test email.', errors)
    const { meta } = settings.current
    const message = testMail({ appName: meta.appName, appUrl: meta.appURL }, template as (typeof TEMPLATES)[number], collection, email)
    try {
      await opts.mail.send(message)
    } catch (err) {
      request.log.warn({ err }, 'settings: test email failed')
      // PocketBase sends the mailer's own error back: the superuser needs it to fix the SMTP settings.
      throw new ApiError('bad_request', `Failed to send the test email. Raw error: \n${(err as Error).message}`)
    }
    return reply.code(204).send()
  })
}
