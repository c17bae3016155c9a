import { Type, type Static } from '@sinclair/typebox'
import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import { ApiError } from '../errors.ts'
import type { Jobs } from '../jobs/jobs.ts'
import { jobStates, type JobState } from '../jobs/queue.ts'
import type { Logger } from '../log.ts'

export interface JobsApiOptions {
  jobs: Jobs
  log: Logger
}

const CronParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 100 }) })
const NameParams = Type.Object({ name: Type.String({ minLength: 1, maxLength: 100 }) })
const JobParams = Type.Object({ name: Type.String({ minLength: 1, maxLength: 100 }), id: Type.String({ minLength: 1, maxLength: 200 }) })
const ListQuery = Type.Object({
  state: Type.Optional(Type.Union(jobStates.map((s) => Type.Literal(s)))),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500 })),
})

/** Superusers only: 401 without valid credentials, 403 for anyone else. */
function requireSuperuser(request: FastifyRequest): void {
  if (!request.auth) throw new ApiError('unauthorized')
  if (!request.auth.isSuperuser) throw new ApiError('forbidden', 'Only superusers can perform this action.')
}

/**
 * The superuser's view of background work.
 * - PocketBase's crons API: `GET /api/crons` lists the registered schedules (`[{id, expression}]`,
 *   by id), `POST /api/crons/{id}` runs one now in this process and answers 204 without waiting
 *   for it (as PocketBase does; a failure is logged).
 * - Plinth's jobs API: `GET /api/jobs` counts per job name and state; `GET /api/jobs/{name}?state=
 *   &limit=` lists (default `failed`, the dead letters, newest first); `GET /api/jobs/{name}/{id}`
 *   shows one with its attempts and last error; `POST .../{id}/retry` puts a failed job back;
 *   `DELETE .../{id}` removes one that is not running; `POST /api/jobs/{name}/pause` and `/resume`
 *   stop and restart a name's jobs on every worker (`GET /api/jobs` lists the paused names).
 */
export const jobsRoutes: FastifyPluginAsync<JobsApiOptions> = async (http, { jobs, log }) => {
  http.get('/api/crons', async (request) => {
    requireSuperuser(request)
    return jobs.crons().sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
  })

  http.post<{ Params: Static<typeof CronParams> }>('/api/crons/:id', { schema: { params: CronParams } }, async (request, reply) => {
    requireSuperuser(request)
    const id = request.params.id
    if (!jobs.crons().some((c) => c.id === id)) throw new ApiError('not_found', 'Missing or invalid cron job.')
    void jobs.runCron(id).catch((err: unknown) => log.error({ err, cron: id }, 'cron: manual run failed'))
    return reply.code(204).send()
  })

  http.get('/api/jobs', async (request) => {
    requireSuperuser(request)
    return { queue: jobs.engine, counts: await jobs.counts(), paused: await jobs.paused() }
  })

  const known = (name: string) => {
    if (!jobs.names().includes(name)) throw new ApiError('not_found', 'Missing or invalid job name.')
  }

  http.get<{ Params: Static<typeof NameParams>; Querystring: Static<typeof ListQuery> }>(
    '/api/jobs/:name',
    { schema: { params: NameParams, querystring: ListQuery } },
    async (request) => {
      requireSuperuser(request)
      known(request.params.name)
      const state: JobState = request.query.state ?? 'failed'
      return { items: await jobs.list(request.params.name, state, request.query.limit ?? 100) }
    },
  )

  for (const action of ['pause', 'resume'] as const) {
    http.post<{ Params: Static<typeof NameParams> }>(`/api/jobs/:name/${action}`, { schema: { params: NameParams } }, async (request, reply) => {
      requireSuperuser(request)
      known(request.params.name)
      await jobs.setPaused(request.params.name, action === 'pause')
      return reply.code(204).send()
    })
  }

  http.get<{ Params: Static<typeof JobParams> }>('/api/jobs/:name/:id', { schema: { params: JobParams } }, async (request) => {
    requireSuperuser(request)
    known(request.params.name)
    const job = await jobs.get(request.params.name, request.params.id)
    if (!job) throw new ApiError('not_found')
    return job
  })

  http.post<{ Params: Static<typeof JobParams> }>('/api/jobs/:name/:id/retry', { schema: { params: JobParams } }, async (request, reply) => {
    requireSuperuser(request)
    known(request.params.name)
    if (!(await jobs.get(request.params.name, request.params.id))) throw new ApiError('not_found')
    if (!(await jobs.retry(request.params.name, request.params.id))) throw new ApiError('bad_request', 'Only a failed job can be retried.')
    return reply.code(204).send()
  })

  http.delete<{ Params: Static<typeof JobParams> }>('/api/jobs/:name/:id', { schema: { params: JobParams } }, async (request, reply) => {
    requireSuperuser(request)
    known(request.params.name)
    if (!(await jobs.get(request.params.name, request.params.id))) throw new ApiError('not_found')
    if (!(await jobs.remove(request.params.name, request.params.id))) throw new ApiError('bad_request', 'A running job cannot be deleted.')
    return reply.code(204).send()
  })
}
