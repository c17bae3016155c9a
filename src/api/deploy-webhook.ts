import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import { ApiError } from '../errors.ts'
import { DeployError, Releases } from '../deploy/releases.ts'
import { readPush, WebhookError } from '../deploy/webhook.ts'
import type { PlinthConfig } from '../config/schema.ts'
import '../auth/request.ts'

export interface DeployApiOptions {
  deploy: PlinthConfig['deploy']
}

/** The last deployment this node started, for `GET /api/plinth/deploy/releases`. */
interface LastDeployment {
  commit: string
  state: 'running' | 'done' | 'failed'
  release?: string
  step?: string
  error?: string
  output?: string
  started: string
  finished?: string
}

/** Push payloads are small; GitHub caps them at 25 MB but a push of one branch is kilobytes. */
const MAX_PAYLOAD = 5 * 1024 * 1024

function requireSuperuser(request: FastifyRequest): void {
  if (!request.auth) throw new ApiError('unauthorized')
  if (!request.auth.isSuperuser) throw new ApiError('forbidden', 'Only superusers can perform this action.')
}

/**
 * Git-webhook deploys on the control host (mounted only when `deploy.webhookSecret` is set):
 * `POST /api/plinth/deploy/webhook` takes a GitHub, GitLab, Gitee or Coding push event, checks its
 * signature or token against the raw body (401 otherwise), deploys only `deploy.branch` (other
 * pushes: 200, ignored), and answers 202 while the release is built, tested and rolled out in the
 * background (409 while another deployment runs). `GET /api/plinth/deploy/releases` shows the
 * releases and the last deployment to superusers.
 */
export const deployRoutes: FastifyPluginAsync<DeployApiOptions> = async (http, { deploy }) => {
  const releases = new Releases({ ...deploy, log: (line) => http.log.info({ deploy: true }, line) })
  let last: LastDeployment | undefined

  // The signature covers the exact bytes: keep the body raw (this plugin's parsers only).
  http.removeAllContentTypeParsers()
  http.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: MAX_PAYLOAD }, (_req, body, done) => done(null, body))

  http.post('/api/plinth/deploy/webhook', async (request, reply) => {
    const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0)
    let push
    try {
      push = readPush(request.headers, body, deploy.webhookSecret)
    } catch (err) {
      if (!(err instanceof WebhookError)) throw err
      if (err.reason === 'ignored') return { message: `Ignored: ${err.message}.` }
      request.log.warn({ reason: err.message }, 'deploy webhook refused')
      throw new ApiError(err.reason, err.reason === 'unauthorized' ? 'The webhook signature or token is not valid.' : err.message)
    }
    if (push.branch !== deploy.branch) {
      return { message: `Ignored: a push to ${push.branch ?? 'a non-branch ref'}; deploying only ${deploy.branch}.` }
    }
    if (last?.state === 'running') throw new ApiError('conflict', `A deployment of ${last.commit.slice(0, 7)} is running; push again once it ends.`)
    const run: LastDeployment = { commit: push.commit, state: 'running', started: new Date().toISOString() }
    last = run
    request.log.info({ host: push.host, commit: push.commit }, 'deploy webhook: deploying')
    releases.deploy(push.commit).then(
      (r) => Object.assign(run, { state: 'done', release: r.name, finished: new Date().toISOString() }),
      (err: unknown) => {
        const e = err instanceof DeployError ? err : new DeployError('deploy', (err as Error).message)
        Object.assign(run, { state: 'failed', step: e.step, error: e.message, output: e.output, finished: new Date().toISOString() })
        http.log.error({ step: e.step, commit: push.commit, output: e.output.slice(-500) }, `deploy failed: ${e.message}`)
      },
    )
    return reply.code(202).send({ message: `Deploying ${push.commit.slice(0, 7)} (${deploy.branch}).`, commit: push.commit })
  })

  http.get('/api/plinth/deploy/releases', async (request) => {
    requireSuperuser(request)
    return { current: releases.currentName() ?? null, releases: releases.list(), last: last ?? null }
  })
}
