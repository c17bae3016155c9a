import type { Jobs } from '../jobs/jobs.ts'
import type { Mailer, MailMessage } from '../mail/mail.ts'

/**
 * Built-in mails (verification, password reset, email change, OTP, login alert) go through the
 * job queue as `plinth.mail` jobs: a request only enqueues, a worker talks to the SMTP server,
 * and a failed send is retried with backoff (2 s doubling, 8 attempts: about four minutes), so a
 * slow or briefly down SMTP server neither slows nor fails a request.
 *
 * NB: a queued message holds its link or code (a reset token, an OTP) until the queue drops the
 * finished job (the SQL queue keeps completed jobs a day): whoever can read the queue's storage
 * could use them, which is also true of the database these tokens unlock.
 */
export const MAIL_JOB = 'plinth.mail'

export function defineMailJob(jobs: Jobs, mail: Mailer): void {
  jobs.define<MailMessage>(MAIL_JOB, (message) => mail.send(message), { attempts: 8, backoff: 2000, timeout: 60_000, concurrency: 4 })
}

/** A Mailer whose `send` enqueues (resolves once the job is stored, not once the mail is accepted). */
export function queuedMailer(jobs: Jobs, mail: Mailer): Mailer {
  return {
    name: mail.name,
    async send(message) {
      await jobs.enqueue(MAIL_JOB, message)
    },
    // The real engine is closed by the core with the other ports.
    async close() {},
  }
}
